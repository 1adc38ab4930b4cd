"""Tracker fixtures beyond the shared ones of tests/conftest.py: licensed parties, stations, cheap hashing.

The database (``db``), the app, its ``client`` and the factories every part uses
(``make_dealer``, ``make_declaration``, ``make_beacon`` ...) live in tests/conftest.py.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import pytest
from sqlalchemy.orm import Session

from tests.conftest import serial
from tracker.domain.register import SaleInput, record_sale
from tracker.domain.sale_answers import confirm_sale
from tracker.models import Activity, Checkpoint, Dealer, Declaration, License, Role, Transaction, User


@pytest.fixture
def make_licensed_dealer(db: Session, make_dealer: Callable[..., Dealer]) -> Callable[..., Dealer]:
    """Factory: a domestic dealer whose licence for ``activities`` runs from a month ago for 400 days."""

    def make(activities: set[Activity] | None = None, quota_g: int = 10_000_000, **kw: Any) -> Dealer:
        dealer = make_dealer(licensed=False, **kw)
        today = datetime.now(timezone.utc).date()
        licence = License(number=f"KG-HG-L-{next(serial):05d}", dealer=dealer,
                          valid_from=today - timedelta(days=30), valid_to=today + timedelta(days=400),
                          annual_quota_g=quota_g)
        licence.activities = activities or {Activity.DOMESTIC_TRADE}
        db.add(licence)
        db.flush()
        return dealer

    return make


@pytest.fixture
def confirmed_sale(db: Session, make_user: Callable[..., User]) -> Callable[..., Transaction]:
    """Factory: a sale entered by the seller's trader and confirmed by a trader of the buyer."""

    def make(seller: User, sale: SaleInput) -> Transaction:
        entry = record_sale(db, seller, sale)
        confirm_sale(db, make_user("trader", dealer=db.get(Dealer, sale.buyer_id)), entry)
        return entry

    return make


@pytest.fixture
def make_submittable(make_licensed_dealer: Callable[..., Dealer], make_user: Callable[..., User],
                     make_declaration: Callable[..., Declaration]) -> Callable[..., tuple[User, Declaration]]:
    """Factory: a trader and a draft of their dealer that meets every submission rule."""

    def make(activities: set[Activity] | None = None, **kw: Any) -> tuple[User, Declaration]:
        trader = make_user(Role.TRADER, dealer=make_licensed_dealer(activities))
        kw.setdefault("consignee", make_licensed_dealer(activities))
        return trader, make_declaration(declarant=trader.dealer, **kw)

    return make


@pytest.fixture
def make_station(db: Session) -> Callable[..., str]:
    """Factory: a checkpoint station's bearer token (the secret) for ``checkpoint``."""
    from tracker.domain.tokens import issue_token

    def make(checkpoint: Checkpoint) -> str:
        _row, secret = issue_token(db, name=f"station {checkpoint.code}", checkpoint=checkpoint)
        return secret

    return make


@pytest.fixture
def fast_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap Argon2 parameters for tests that create and sign in many users (not a security test)."""
    from argon2 import PasswordHasher

    from tracker.domain import passwords

    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))


@pytest.fixture
def statements(engine: Any) -> Any:
    """The SQL statements sent to the database, as a list a test can clear and count."""
    from sqlalchemy import event

    sent: list[str] = []

    def note(_connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    yield sent
    event.remove(engine, "before_cursor_execute", note)
