"""Account management by the licensing authority: create, deactivate, reactivate, reset a password.

``users`` creates accounts and checks passwords; this module adds the administrator's
acts on them, each refused to anyone without the right to manage users. A generated
password is returned once for the administrator to hand over; only its hash is kept.
Each act is written to the account audit trail; a deactivation or a password reset also
ends every session of the account at once.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.domain import account_events
from tracker.domain.access import Action, may
from tracker.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from tracker.domain.passwords import generate_password, hash_password, password_problem
from tracker.domain.sessions import end_all_sessions
from tracker.domain.text import Text, text
from tracker.domain.users import LOGIN_PATTERN, create_user
from tracker.models import AccountEventKind, Checkpoint, Dealer, Role, User


@dataclass
class AccountInput:
    """What the administrator fills in to open an account (an empty password: generate one)."""

    login: str
    name: str
    role: str
    password: str = ""
    dealer_id: int | None = None
    checkpoint_ids: list[int] = field(default_factory=list)


def require_user_admin(actor: User) -> None:
    """Refuse anyone who may not manage accounts."""
    if not may(actor, Action.MANAGE_USERS):
        raise Forbidden(text("only the licensing authority manages accounts"))


def _password_error(password: str, names: list[str]) -> Text | None:
    """Return why a password the administrator typed may not be set (an empty one is generated)."""
    return password_problem(password, names) if password else None


def _role_errors(session: Session, role: str, dealer_id: int | None, checkpoint_ids: list[int]) -> dict[str, str]:
    """Check that a role fits its dealer (traders) and checkpoints (customs officers)."""
    errors: dict[str, str] = {}
    if role not in {r.value for r in Role}:
        errors["role"] = text("choose a role")
    dealer = session.get(Dealer, dealer_id) if dealer_id is not None else None
    if role == Role.TRADER and (dealer is None or not dealer.is_domestic):
        errors["dealer_id"] = text("a trader belongs to one domestic dealer")
    elif role != Role.TRADER and dealer_id is not None:
        errors["dealer_id"] = text("only traders belong to a dealer")
    if role == Role.CUSTOMS_OFFICER and not checkpoint_ids:
        errors["checkpoint_ids"] = text("a customs officer is posted to at least one checkpoint")
    elif role != Role.CUSTOMS_OFFICER and checkpoint_ids:
        errors["checkpoint_ids"] = text("only customs officers are posted to checkpoints")
    return errors


def _checkpoints(session: Session, checkpoint_ids: list[int], errors: dict[str, str]) -> list[Checkpoint]:
    """Load the checkpoints by id, noting an unknown one in ``errors``."""
    checkpoints = list(session.scalars(select(Checkpoint).where(Checkpoint.id.in_(checkpoint_ids))))
    if "checkpoint_ids" not in errors and len(checkpoints) != len(set(checkpoint_ids)):
        errors["checkpoint_ids"] = text("no such checkpoint")
    return checkpoints


def _account_errors(session: Session, data: AccountInput) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not LOGIN_PATTERN.match(data.login):
        errors["login"] = text("2-64 lower-case letters, digits, '.', '_' or '-'")
    elif session.scalar(select(User.id).where(User.login == data.login)) is not None:
        errors["login"] = text("this login is taken")
    if not data.name.strip() or len(data.name.strip()) > 120:
        errors["name"] = text("1–{length} characters", length=120)
    errors.update(_role_errors(session, data.role, data.dealer_id, data.checkpoint_ids))
    if (message := _password_error(data.password, [data.login, data.name])) is not None:
        errors["password"] = message
    return errors


def open_account(session: Session, actor: User, data: AccountInput) -> tuple[User, str | None]:
    """Create an account; return it and the generated password (None when the admin set one)."""
    require_user_admin(actor)
    data.login = data.login.strip().lower()
    errors = _account_errors(session, data)
    checkpoints = _checkpoints(session, data.checkpoint_ids, errors)
    if errors:
        raise ValidationFailed(errors)
    generated = None if data.password else generate_password([data.login, data.name])
    user = create_user(session, login=data.login, name=data.name.strip(), role=data.role,
                       password=data.password or str(generated),
                       dealer=session.get(Dealer, data.dealer_id) if data.dealer_id else None,
                       checkpoints=checkpoints, actor=actor)
    return user, generated


def _account(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(text("no user {user_id}", user_id=user_id))
    return user


def set_active(session: Session, actor: User, user_id: int, active: bool) -> User:
    """Deactivate (sessions ended, no more sign-in) or reactivate an account; nobody deactivates themselves."""
    require_user_admin(actor)
    user = _account(session, user_id)
    if user.id == actor.id and not active:
        raise Conflict(text("you cannot deactivate your own account"))
    if user.active == active:
        raise Conflict(text("{login} is already active", login=user.login) if active
                       else text("{login} is already deactivated", login=user.login))
    user.active = active
    if not active:
        end_all_sessions(session, user)
    account_events.record(session, AccountEventKind.REACTIVATED if active else AccountEventKind.DEACTIVATED,
                          user.login, user=user, actor=actor)
    return user


def reset_password(session: Session, actor: User, user_id: int, password: str = "") -> tuple[User, str | None]:
    """Set a new password (the admin's, or a generated one, returned once); end the user's sessions."""
    require_user_admin(actor)
    user = _account(session, user_id)
    if (message := _password_error(password, [user.login, user.name])) is not None:
        raise ValidationFailed({"password": message})
    generated = None if password else generate_password([user.login, user.name])
    user.password_hash = hash_password(password or str(generated))
    end_all_sessions(session, user)
    account_events.record(session, AccountEventKind.PASSWORD_RESET, user.login, user=user, actor=actor)
    return user, generated


def change_role(session: Session, actor: User, user_id: int, role: str, dealer_id: int | None = None,
                checkpoint_ids: list[int] | None = None) -> User:
    """Give an account another role (with its dealer or checkpoints); nobody changes their own."""
    require_user_admin(actor)
    user = _account(session, user_id)
    if user.id == actor.id:
        raise Conflict(text("you cannot change your own role"))
    checkpoint_ids = checkpoint_ids or []
    errors = _role_errors(session, role, dealer_id, checkpoint_ids)
    checkpoints = _checkpoints(session, checkpoint_ids, errors)
    if errors:
        raise ValidationFailed(errors)
    before = user.role
    dealer = session.get(Dealer, dealer_id) if dealer_id is not None else None
    user.role, user.dealer, user.checkpoints = Role(role), dealer, checkpoints
    session.flush()
    account_events.record(session, AccountEventKind.ROLE_CHANGED, user.login, user=user, actor=actor,
                          detail=f"{before.value} > {user.role.value}")
    return user
