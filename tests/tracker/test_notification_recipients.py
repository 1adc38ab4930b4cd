"""Who is told of an alert: each role's defaults, subscriptions, and never what one may not read."""
from __future__ import annotations

from typing import Any, Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker.domain.alert_kinds import AlertKind
from tracker.domain.alerts import open_alert
from tracker.domain.errors import Forbidden, ValidationFailed
from tracker.domain.notifications import following
from tracker.domain.notifications.fanout import fan_out
from tracker.models import (
    Alert,
    Declaration,
    DeclarationStatus,
    FollowSubject,
    Notification,
    NotificationFanout,
    OutboxMessage,
    Role,
    User,
)


@pytest.fixture
def declaration(make_declaration: Callable[..., Declaration]) -> Declaration:
    """A submitted declaration Osh → Bishkek."""
    return make_declaration(status=DeclarationStatus.IN_TRANSIT)


def told(db: Session, alert: Alert) -> set[str]:
    """Fan out what is pending and return the logins told of ``alert``."""
    fan_out(db, email_on=True)
    return set(db.scalars(select(User.login).join(Notification, Notification.user_id == User.id)
                          .where(Notification.alert_id == alert.id)))


def test_opening_an_alert_records_its_fan_out_in_the_same_transaction(db: Session, declaration: Declaration) -> None:
    savepoint = db.begin_nested()
    alert = open_alert(db, kind=AlertKind.OFF_ROUTE, declaration=declaration)
    assert db.get(NotificationFanout, alert.id) is not None
    savepoint.rollback()
    assert db.scalar(select(func.count()).select_from(NotificationFanout)) == 0


def test_each_role_is_told_by_default_of_what_concerns_it(db: Session, declaration: Declaration,
                                                          make_user: Callable[..., User],
                                                          make_dealer: Any) -> None:
    own_trader = make_user(Role.TRADER, dealer=declaration.declarant)
    consignee_trader = make_user(Role.TRADER, dealer=declaration.consignee)
    other_trader = make_user(Role.TRADER)
    posted = make_user(Role.CUSTOMS_OFFICER, checkpoints=[declaration.destination])
    elsewhere = make_user(Role.CUSTOMS_OFFICER)
    auditor = make_user(Role.AUDITOR)
    admin = make_user(Role.LICENSING_ADMIN)

    warning = open_alert(db, kind=AlertKind.OFF_ROUTE, declaration=declaration)
    assert told(db, warning) == {own_trader.login, consignee_trader.login, posted.login}

    critical = open_alert(db, kind=AlertKind.LICENCE_SUSPENDED, declaration=declaration)
    assert told(db, critical) == {own_trader.login, consignee_trader.login, posted.login, auditor.login,
                                  admin.login}
    assert other_trader.login not in told(db, critical) and elsewhere.login not in told(db, critical)


def test_a_trader_is_never_told_of_another_traders_declaration(db: Session, declaration: Declaration,
                                                               make_user: Callable[..., User]) -> None:
    outsider = make_user(Role.TRADER)
    following.follow(db, outsider, "alert_kind", AlertKind.OFF_ROUTE.value)
    following.follow(db, outsider, "checkpoint", str(declaration.origin_id))
    with pytest.raises(ValidationFailed):            # another dealer's declaration is not found by its reference
        following.follow(db, outsider, "declaration", declaration.reference)
    with pytest.raises(Forbidden):
        following.follow(db, outsider, "dealer", str(declaration.declarant_id))
    alert = open_alert(db, kind=AlertKind.OFF_ROUTE, declaration=declaration)
    assert outsider.login not in told(db, alert)


def test_subscriptions_add_to_the_defaults_or_replace_them(db: Session, declaration: Declaration,
                                                           make_user: Callable[..., User],
                                                           make_declaration: Callable[..., Declaration]) -> None:
    auditor = make_user(Role.AUDITOR)
    officer = make_user(Role.CUSTOMS_OFFICER)
    following.follow(db, auditor, "declaration", declaration.reference)
    following.follow(db, officer, "dealer", str(declaration.consignee_id))
    assert told(db, open_alert(db, kind=AlertKind.LATE, declaration=declaration)) == {auditor.login, officer.login}

    following.choose(db, auditor, follow_defaults=False, by_email=False, email="")
    other = make_declaration(status=DeclarationStatus.IN_TRANSIT)
    assert auditor.login not in told(db, open_alert(db, kind=AlertKind.SEAL_BROKEN, declaration=other))
    following.follow(db, auditor, "alert_kind", AlertKind.SEAL_BROKEN.value)
    assert auditor.login in told(db, open_alert(db, kind=AlertKind.SEAL_BROKEN, declaration=other))


def test_an_officer_follows_custody_at_their_post_named_by_the_alert(db: Session, make_user: Callable[..., User],
                                                                      make_checkpoint: Any) -> None:
    post = make_checkpoint()
    officer = make_user(Role.CUSTOMS_OFFICER, checkpoints=[post])
    alert = open_alert(db, kind=AlertKind.CUSTODY_WITHOUT_DECLARATION, details={"checkpoint": post.code})
    assert officer.login in told(db, alert)


def test_an_alert_is_fanned_out_once_and_inactive_users_are_not_told(db: Session, declaration: Declaration,
                                                                      make_user: Callable[..., User]) -> None:
    trader = make_user(Role.TRADER, dealer=declaration.declarant)
    gone = make_user(Role.TRADER, dealer=declaration.declarant)
    gone.active = False
    alert = open_alert(db, kind=AlertKind.OFF_ROUTE, declaration=declaration)
    assert told(db, alert) == {trader.login}
    assert fan_out(db, email_on=True) == 0
    assert db.scalar(select(func.count()).select_from(Notification).where(Notification.alert_id == alert.id)) == 1


def test_messages_are_queued_per_channel_chosen(db: Session, declaration: Declaration,
                                                make_user: Callable[..., User]) -> None:
    auditor = make_user(Role.AUDITOR)
    following.choose(db, auditor, follow_defaults=True, by_email=True, email="auditor@minfin.example.kg")
    following.add_webhook(db, auditor, "http://127.0.0.1:9/hook", allow_private=True)
    off = following.add_webhook(db, auditor, "http://127.0.0.1:9/old", allow_private=True)
    following.switch_webhook(db, auditor, off.id, active=False)
    alert = open_alert(db, kind=AlertKind.SEAL_BROKEN, declaration=declaration)
    told(db, alert)
    channels = sorted(m.channel.value for m in db.scalars(select(OutboxMessage)))
    assert channels == ["email", "webhook"]


def test_no_mail_server_queues_no_email(db: Session, declaration: Declaration, make_user: Callable[..., User]) -> None:
    auditor = make_user(Role.AUDITOR)
    following.choose(db, auditor, follow_defaults=True, by_email=True, email="auditor@minfin.example.kg")
    open_alert(db, kind=AlertKind.SEAL_BROKEN, declaration=declaration)
    fan_out(db, email_on=False)
    assert db.scalar(select(func.count()).select_from(Notification)) == 1
    assert db.scalar(select(func.count()).select_from(OutboxMessage)) == 0


@pytest.mark.parametrize("email", ["not-an-address", "a@b", "x@example.kg\r\nBcc: all@example.kg", "a" * 300])
def test_an_email_address_that_is_not_one_is_refused(db: Session, make_user: Callable[..., User], email: str) -> None:
    with pytest.raises(ValidationFailed):
        following.choose(db, make_user(Role.AUDITOR), follow_defaults=True, by_email=True, email=email)


def test_only_auditors_and_the_licensing_authority_have_webhooks_and_never_to_private_addresses(
        db: Session, make_user: Callable[..., User]) -> None:
    with pytest.raises(Forbidden):
        following.add_webhook(db, make_user(Role.TRADER), "https://example.org/hook", allow_private=False)
    auditor = make_user(Role.AUDITOR)
    for url in ("http://127.0.0.1:8080/hook", "http://10.1.2.3/", "http://[::1]/", "http://169.254.169.254/",
                "ftp://example.org/", "https://user:pw@example.org/", "javascript:alert(1)"):
        with pytest.raises(ValidationFailed):
            following.add_webhook(db, auditor, url, allow_private=False)


def test_following_the_same_thing_twice_keeps_one_subscription(db: Session, make_user: Callable[..., User]) -> None:
    auditor = make_user(Role.AUDITOR)
    first = following.follow(db, auditor, "alert_kind", "late")
    assert following.follow(db, auditor, "alert_kind", "late") is first
    assert [s.subject for s in following.follows_of(db, auditor)] == [FollowSubject.ALERT_KIND]
    for subject, value in (("alert_kind", "no_such_kind"), ("checkpoint", "99999999"), ("planet", "1"),
                           ("checkpoint", "1" * 40)):
        with pytest.raises(ValidationFailed):
            following.follow(db, auditor, subject, value)
