"""Notification preferences: keep the role's defaults, e-mail, what else to follow, webhooks.

Every change calls tracker.domain.notifications.following; a refusal shows the page again
with the reason beside the field (422), nothing half-saved.
"""
from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from sqlalchemy import select

from tracker.domain.alert_kinds import AlertKind
from tracker.domain.errors import ValidationFailed
from tracker.domain.notifications import following
from tracker.models import Checkpoint, Dealer, Declaration, FollowSubject, Role, Subscription, User
from tracker.web.auth import acting_user
from tracker.web.database import get_session
from tracker.web.labels import label
from tracker.web.portal.blueprint import bp

#: What each role follows by default, in words (tracker.domain.notifications.recipients decides it).
DEFAULTS = {
    Role.TRADER: _l("alerts on your own declarations"),
    Role.CUSTOMS_OFFICER: _l("alerts on declarations whose route passes your posts"),
    Role.AUDITOR: _l("every critical alert"),
    Role.LICENSING_ADMIN: _l("licences and approvals that stop holding"),
}


def _followed(subscription: Subscription) -> str:
    """Name what a subscription follows, in the user's language."""
    db, value = get_session(), subscription.value
    if subscription.subject == FollowSubject.ALERT_KIND:
        return label(value)
    if subscription.subject == FollowSubject.DECLARATION:
        declaration = db.get(Declaration, int(value))
        return declaration.reference or declaration.label if declaration else value
    record = db.get(Dealer if subscription.subject == FollowSubject.DEALER else Checkpoint, int(value))
    return getattr(record, "legal_name", None) or getattr(record, "name", None) or value


def _choices(user: User) -> dict[str, list[tuple[str, str]]]:
    db = get_session()
    choices = {"alert_kind": sorted(((k.value, label(k.value)) for k in AlertKind), key=lambda c: c[1]),
               "checkpoint": [(str(c.id), f"{c.name} ({c.code})") for c in
                              db.scalars(select(Checkpoint).order_by(Checkpoint.name))]}
    if user.role in following.DEALER_ROLES:
        choices["dealer"] = [(str(d.id), d.legal_name) for d in db.scalars(select(Dealer).order_by(Dealer.legal_name))]
    return choices


def _page(errors: dict[str, Any] | None = None, failed: str = "", status: int = 200,
          new_webhook: Any = None):  # type: ignore[no-untyped-def]
    db, user = get_session(), acting_user()
    settings = current_app.config["SETTINGS"]
    return render_template(
        "notifications/preferences.html", settings=following.settings_of(db, user), default=DEFAULTS[user.role],
        follows=[(s, _followed(s)) for s in following.follows_of(db, user)], choices=_choices(user),
        webhooks=following.webhooks_of(db, user) if user.role in following.WEBHOOK_ROLES else None,
        subjects=[FollowSubject.ALERT_KIND, FollowSubject.DECLARATION, FollowSubject.CHECKPOINT, FollowSubject.DEALER],
        email_on=bool(settings.smtp_host), errors=errors or {}, failed=failed, new_webhook=new_webhook), status


def _saved(change: Any, failed: str, done: Any):  # type: ignore[no-untyped-def]
    """Run one change; on refusal show the page again with its reasons, else say it is saved."""
    db = get_session()
    try:
        change(db, acting_user())
    except ValidationFailed as exc:
        db.rollback()
        return _page(exc.errors, failed, 422)
    db.commit()
    flash(str(done), "success")
    return redirect(url_for("portal.notification_preferences"))


@bp.get("/notifications/preferences")
@login_required
def notification_preferences():  # type: ignore[no-untyped-def]
    """Show what the user follows, how they are told, and their webhooks."""
    return _page()


@bp.post("/notifications/preferences/channels")
@login_required
def save_notification_channels():  # type: ignore[no-untyped-def]
    """Save whether to keep the role's defaults and to be mailed (and where)."""
    form = request.form
    return _saved(lambda db, user: following.choose(db, user, form.get("follow_defaults") == "1",
                                                    form.get("by_email") == "1", form.get("email", "")[:300]),
                  "channels", gettext("Notification settings saved."))


@bp.post("/notifications/preferences/follow")
@login_required
def follow():  # type: ignore[no-untyped-def]
    """Follow an alert kind, a declaration, a dealer or a checkpoint."""
    subject = request.form.get("subject", "")[:40]
    value = request.form.get(f"value_{subject}", "")[:100]
    return _saved(lambda db, user: following.follow(db, user, subject, value), "follow",
                  gettext("Now following it."))


@bp.post("/notifications/preferences/follow/<int:subscription_id>/remove")
@login_required
def unfollow(subscription_id: int):  # type: ignore[no-untyped-def]
    """Stop following one thing."""
    return _saved(lambda db, user: following.unfollow(db, user, subscription_id), "",
                  gettext("No longer following it."))


@bp.post("/notifications/webhooks")
@login_required
def add_webhook():  # type: ignore[no-untyped-def]
    """Register a webhook and show its secret once, on this answer (it signs every delivery)."""
    allow = current_app.config["SETTINGS"].webhook_allow_private
    db = get_session()
    try:
        endpoint = following.add_webhook(db, acting_user(), request.form.get("url", "")[:600], allow)
    except ValidationFailed as exc:
        db.rollback()
        return _page(exc.errors, "webhook", 422)
    db.commit()
    return _page(new_webhook=endpoint)          # its secret is shown this once, never put in a cookie


@bp.post("/notifications/webhooks/<int:endpoint_id>/switch")
@login_required
def switch_webhook(endpoint_id: int):  # type: ignore[no-untyped-def]
    """Switch a webhook on or off."""
    active = request.form.get("active") == "1"
    done = gettext("Webhook switched on.") if active else gettext("Webhook switched off.")
    return _saved(lambda db, user: following.switch_webhook(db, user, endpoint_id, active), "", done)
