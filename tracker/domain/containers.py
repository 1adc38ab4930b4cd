"""Registering containers of mercury."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker.domain.access import Action, container_filter, may
from tracker.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from tracker.domain.gs1 import SSCC_LENGTH, InvalidIdentifier, make_sscc, validate_sscc
from tracker.domain.plausibility import capacity_problem, mass_problem
from tracker.domain.text import text
from tracker.models import Container, ContainerType, User

#: The GS1 company prefix under which the registry allocates SSCCs for containers registered
#: in the portal without one (made up, like the demo's; a deployment sets SSCC_COMPANY_PREFIX).
REGISTRY_COMPANY_PREFIX = "4709990"
#: The extension digit of allocated SSCCs (the company's own choice in GS1's rules).
ALLOCATED_EXTENSION = 0
MAX_SEAL_NUMBER = 40


def _is_seal_number(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_SEAL_NUMBER and value.isprintable()


def find_container(session: Session, user: User, sscc: str) -> Container:
    """Return the container with ``sscc`` if ``user`` may see it, else raise NotFound."""
    container = session.scalars(
        select(Container).where(Container.sscc == sscc, container_filter(user))
    ).one_or_none()
    if container is None:
        raise NotFound(text("no container {sscc}", sscc=sscc))
    return container


def register_container(
    session: Session,
    actor: User,
    *,
    sscc: str,
    container_type: str,
    tare_g: int,
    capacity_g: int,
    net_g: int,
    seal_number: str | None = None,
) -> Container:
    """Register a container held and owned by the acting trader's dealer."""
    if not may(actor, Action.REGISTER_CONTAINER):
        raise Forbidden(text("only a trader registers containers for their dealer"))
    errors: dict[str, str] = {}
    try:
        validate_sscc(sscc)
    except InvalidIdentifier as exc:
        errors["sscc"] = str(exc)
    if container_type not in {t.value for t in ContainerType}:
        errors["container_type"] = text("one of {values}", values=', '.join(t.value for t in ContainerType))
    for field, value, minimum in (("tare_g", tare_g, 1), ("capacity_g", capacity_g, 1), ("net_g", net_g, 0)):
        if (problem := mass_problem(value, minimum=minimum)) is not None:
            errors[field] = problem
    if "capacity_g" not in errors and (problem := capacity_problem(container_type, capacity_g)) is not None:
        errors["capacity_g"] = problem
    if seal_number is not None and not _is_seal_number(seal_number):
        errors["seal_number"] = text("up to {limit} printable characters", limit=MAX_SEAL_NUMBER)
    if "net_g" not in errors and "capacity_g" not in errors and net_g > capacity_g:
        errors["net_g"] = text("{net_g} g exceeds the capacity of {capacity_g} g",
                               net_g=net_g, capacity_g=capacity_g)
    if errors:
        raise ValidationFailed(errors)
    if session.scalar(select(Container.id).where(Container.sscc == sscc)) is not None:
        raise Conflict(text("container {sscc} is already registered", sscc=sscc))
    container = Container(
        sscc=sscc, container_type=ContainerType(container_type), tare_g=tare_g,
        capacity_g=capacity_g, net_g=net_g, seal_number=seal_number,
        owner_id=actor.dealer_id, custodian_id=actor.dealer_id,
    )
    session.add(container)
    session.flush()
    return container


def allocate_sscc(session: Session, company_prefix: str = REGISTRY_COMPANY_PREFIX) -> str:
    """Return the next unused SSCC under ``company_prefix``: one past the highest registered serial.

    Two allocations racing for the same serial cannot both be stored (the SSCC is unique).
    """
    if not (company_prefix.isascii() and company_prefix.isdigit() and 6 <= len(company_prefix) <= 12):
        raise InvalidIdentifier(text("a GS1 company prefix is 6 to 12 digits, got {prefix!r}",
                                     prefix=company_prefix))
    start = f"{ALLOCATED_EXTENSION}{company_prefix}"
    highest = session.scalar(select(func.max(Container.sscc)).where(
        Container.sscc.startswith(start, autoescape=True)))
    serial = int(highest[len(start):SSCC_LENGTH - 1]) + 1 if highest else 1
    return make_sscc(ALLOCATED_EXTENSION, company_prefix, serial)
