"""A beacon's kept messages: what it sent that did not become a position, with why and the raw bytes.

Auditors and the licensing authority read it (linked from the *Devices* page); newest first,
filtered by kind and by words of the reason, a page at a time.
"""
from __future__ import annotations

from flask import abort, render_template, request
from flask_babel import lazy_gettext as _l

from tracker.domain.device_messages import MAX_REASON_SEARCH, kept_messages
from tracker.models import Beacon
from tracker.models.device_messages import MESSAGE_KINDS
from tracker.web.database import get_session
from tracker.web.portal.admin_forms import readers_only
from tracker.web.portal.blueprint import bp
from tracker.web.portal.pages import paginate

#: What each kind of kept message is, for people (``tracker.models.device_messages.MESSAGE_KINDS``).
KIND_LABELS = {
    "login": _l("login"), "heartbeat": _l("heartbeat"), "status": _l("status without a fix"),
    "alarm": _l("alarm without a fix"), "time_request": _l("time request"),
    "address_request": _l("address request"), "command_response": _l("command answer"),
    "ping": _l("keep-alive ping"), "unknown": _l("unknown packet type"), "malformed": _l("unreadable bytes"),
    "refused": _l("refused"),
}


@bp.get("/devices/beacons/<int:beacon_id>/messages")
@readers_only
def device_messages(beacon_id: int):  # type: ignore[no-untyped-def]
    """List the messages kept from one beacon, newest first, filtered by kind and reason."""
    db = get_session()
    beacon = db.get(Beacon, beacon_id)
    if beacon is None:
        abort(404, description="no such beacon")
    kind = request.args.get("kind", "")
    kind = kind if kind in MESSAGE_KINDS else ""
    reason = request.args.get("reason", "").strip()[:MAX_REASON_SEARCH]
    page = paginate(db, kept_messages(beacon.device_id, kind, reason))
    return render_template("admin/device_messages.html", beacon=beacon, page=page, kind=kind, reason=reason,
                           kind_options=[(k, KIND_LABELS[k]) for k in MESSAGE_KINDS], kind_labels=KIND_LABELS,
                           max_reason=MAX_REASON_SEARCH)
