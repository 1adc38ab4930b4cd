"""The bell: unread count in the header, the list of one's notifications, and delivery states.

A notification says an alert concerns the user (see tracker.domain.notifications); opening
it marks it read and shows the alert. Each one lists how it went out by e-mail and webhook
(state, attempts, last error); the licensing authority and auditors see every delivery.
"""
from __future__ import annotations

from typing import Any

from flask import Flask, flash, redirect, render_template, request, url_for
from flask_babel import ngettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from sqlalchemy.exc import SQLAlchemyError

from tracker.domain.notifications import inbox
from tracker.models import Channel, DeliveryState, FollowSubject
from tracker.web import labels
from tracker.web.auth import acting_user
from tracker.web.database import get_session
from tracker.web.portal.blueprint import bp
from tracker.web.portal.pages import paginate

labels.LABELS.update({
    DeliveryState: {"pending": _l("waiting"), "sending": _l("sending"), "sent": _l("sent"), "failed": _l("failed")},
    Channel: {"email": _l("e-mail"), "webhook": _l("webhook")},
    FollowSubject: {"alert_kind": _l("alert kind"), "declaration": _l("declaration"), "dealer": _l("dealer"),
                    "checkpoint": _l("checkpoint")},
})


@bp.app_template_global("bell_state")
def bell_state(unread: int) -> dict[str, Any]:
    """Return what the bell shows for ``unread`` notifications: the number ("" for none), its words, the count.

    The header's bell is drawn from it, and the live streams send it when the count changes.
    """
    return {"unread": unread, "number": "" if not unread else str(unread) if unread < 100 else "99+",
            "label": ngettext("Notifications: %(num)s unread", "Notifications: %(num)s unread", unread)}


def bell() -> dict[str, Any]:
    """Give every page ``unread_notifications``: the signed-in user's unread count (None signed out)."""
    if not getattr(current_user, "is_authenticated", False):
        return {"unread_notifications": None}
    try:
        return {"unread_notifications": inbox.unread_count(get_session(), acting_user())}
    except SQLAlchemyError:                      # the page (an error page, say) still shows, without a count
        get_session().rollback()
        return {"unread_notifications": None}


@bp.record_once
def _register_bell(state: Any) -> None:
    app: Flask = state.app
    app.context_processor(bell)


@bp.get("/notifications")
@login_required
def notifications():  # type: ignore[no-untyped-def]
    """List the user's notifications, newest first (only the unread with ``?unread=1``)."""
    unread_only = request.args.get("unread") == "1"
    page = paginate(get_session(), inbox.notifications_of(acting_user(), unread_only))
    return render_template("notifications/list.html", page=page, unread_only=unread_only)


@bp.get("/notifications/<int:notification_id>")
@login_required
def open_notification(notification_id: int):  # type: ignore[no-untyped-def]
    """Mark a notification read and show its alert."""
    db = get_session()
    notification = inbox.mark_read(db, acting_user(), notification_id)
    db.commit()
    return redirect(url_for("portal.alert", alert_id=notification.alert_id))


@bp.post("/notifications/<int:notification_id>/read")
@login_required
def read_notification(notification_id: int):  # type: ignore[no-untyped-def]
    """Mark one notification read and go back to the list."""
    db = get_session()
    inbox.mark_read(db, acting_user(), notification_id)
    db.commit()
    return redirect(url_for("portal.notifications"))


@bp.post("/notifications/read")
@login_required
def read_all_notifications():  # type: ignore[no-untyped-def]
    """Mark every unread notification read."""
    db = get_session()
    count = inbox.mark_all_read(db, acting_user())
    db.commit()
    flash(ngettext("%(num)s notification marked read.", "%(num)s notifications marked read.", count), "success")
    return redirect(url_for("portal.notifications"))


@bp.get("/notifications/deliveries")
@login_required
def deliveries():  # type: ignore[no-untyped-def]
    """Every e-mail and webhook message with its state (licensing authority, auditors)."""
    chosen = request.args.get("state", "")
    state = DeliveryState(chosen) if chosen in {s.value for s in DeliveryState} else None
    page = paginate(get_session(), inbox.deliveries(acting_user(), state))
    return render_template("notifications/deliveries.html", page=page, chosen=state, states=list(DeliveryState))
