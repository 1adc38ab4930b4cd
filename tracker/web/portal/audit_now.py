"""The auditor's "Now": every declaration in transit on a map and in a table, and the open alerts.

Read only, for the roles that see every record (auditors, the licensing authority); other
roles get 403 — a trader follows their own shipments on the declaration pages.
"""
from __future__ import annotations

from datetime import timedelta
from functools import wraps
from typing import Any, Callable, TypeVar

from flask import abort, render_template, url_for
from flask_babel import format_timedelta, gettext as _, ngettext
from flask_login import login_required
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tracker.domain import geojson
from tracker.domain.access import sees_everything
from tracker.domain.audit.now import AGE_BANDS, InTransit, in_transit, open_alert_summary, open_alerts
from tracker.models import AlertSeverity, Declaration, ExpectedCheckpoint, utcnow
from tracker.web.auth import acting_user
from tracker.web.database import get_session
from tracker.web.i18n import kg, when
from tracker.web.labels import label
from tracker.web.portal.blueprint import bp
from tracker.web.portal.pages import PAGE_SIZE, Page, page_number

F = TypeVar("F", bound=Callable[..., Any])
#: How far the Now map simplifies a declared route (degrees, about 100 m: a country-wide view).
OVERVIEW_TOLERANCE_DEG = 0.001
#: How many declarations the map draws at most (the stalest first, as the table lists them).
MAP_LIMIT = 500
#: How many open alerts the page lists (the rest are on the Alerts page).
ALERT_LIMIT = 50
#: Age of the last fix: (class, upper bound); beyond the last bound a beacon counts as lost.
FIX_AGES: tuple[tuple[str, timedelta], ...] = (("fresh", timedelta(minutes=30)), ("stale", timedelta(hours=6)))


def audit_page(view: F) -> F:
    """Guard an audit page: signed in, and a role that reads every record (else 403)."""

    @wraps(view)
    @login_required
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if not sees_everything(acting_user()):
            abort(403, description=_("Audit pages are for auditors and the licensing authority."))
        return view(*args, **kwargs)

    return guarded  # type: ignore[return-value]


def age(seconds: float | None) -> str:
    """Say how long ago something happened, in the user's language ("5 minutes")."""
    if seconds is None:
        return "—"
    return format_timedelta(timedelta(seconds=max(seconds, 0)), granularity="minute", threshold=1.5)


def fix_age(seconds: float | None) -> str:
    """Class of a last fix's age: fresh, stale, lost, or none (no fix yet)."""
    if seconds is None:
        return "none"
    return next((name for name, upper in FIX_AGES if seconds < upper.total_seconds()), "lost")


def worst(row: InTransit) -> str | None:
    """The most severe open alert on a declaration in transit (None when nothing is open)."""
    severities = {a.severity for a in row.open_alerts}
    return next((s.value for s in (AlertSeverity.CRITICAL, AlertSeverity.WARNING, AlertSeverity.INFO)
                 if s in severities), None)


def _declarations(db: Session, rows: list[InTransit], for_map: bool = False) -> dict[int, Declaration]:
    """Return the rows' declarations, with what the table (and, ``for_map``, the map) shows of them
    loaded together: a few queries in all, however many declarations are in transit."""
    ids = [r.declaration_id for r in rows]
    if not ids:
        return {}
    options = [selectinload(Declaration.items), selectinload(Declaration.declarant)]
    if for_map:
        options += [selectinload(Declaration.origin),
                    selectinload(Declaration.destination),
                    selectinload(Declaration.expected_checkpoints).selectinload(ExpectedCheckpoint.checkpoint)]
    query = select(Declaration).where(Declaration.id.in_(ids)).options(*options)
    return {d.id: d for d in db.scalars(query)}


def marker(row: InTransit, d: Declaration) -> dict[str, Any]:
    """Return the map feature of one declaration's last position, with its popup in the user's language."""
    alerts = [f"{label(a.severity).capitalize()}: {label(a.kind)} ({age(a.age_s)})" for a in row.open_alerts]
    text = [d.declarant.legal_name, kg(d.declared_net_g),
            _("Last fix %(time)s, %(age)s ago", time=when(row.fix_time), age=age(row.age_s)),
            ngettext("%(num)s open alert", "%(num)s open alerts", len(alerts)), *alerts]
    properties = {"id": d.id, "label": d.label, "text": text, "age": fix_age(row.age_s),
                  "url": url_for("portal.declaration", declaration_id=d.id), "link_text": _("Open the declaration")}
    if worst(row):
        properties["severity"] = worst(row)
    return geojson.feature("in_transit", geojson.point(row.lon, row.lat), f"in-transit-{d.id}", **properties)


def now_map(db: Session, rows: list[InTransit]) -> dict[str, Any]:
    """Return the last positions of ``rows``, their declared routes and the routes' checkpoints as a
    FeatureCollection for static/map.js."""
    found = _declarations(db, rows, for_map=True)
    shown = [found[r.declaration_id] for r in rows if r.declaration_id in found]
    return geojson.collection([*route_lines(shown), *route_checkpoints(shown),
                               *(marker(r, found[r.declaration_id]) for r in rows
                                 if r.lat is not None and r.declaration_id in found)])


def route_lines(declarations: list[Declaration]) -> list[dict[str, Any]]:
    """Return the declared routes, simplified to about 100 m for the country-wide map."""
    lines = []
    for d in declarations:
        line = geojson.route_feature(d, tolerance_deg=OVERVIEW_TOLERANCE_DEG)
        if line is not None:
            line["id"] = f"route-{d.id}"
            line["properties"].update(label=d.label, text=[_("Planned route")], link_text=_("Open the declaration"),
                                      url=url_for("portal.declaration", declaration_id=d.id))
            lines.append(line)
    return lines


def route_checkpoints(declarations: list[Declaration]) -> list[dict[str, Any]]:
    """Return the checkpoints of the declared routes, each once, named."""
    checkpoints = {p.checkpoint.code: p.checkpoint for d in declarations for p in d.route_places}
    features = [geojson.checkpoint_feature(c) for _code, c in sorted(checkpoints.items())]
    for f in features:
        f["properties"].update(label=f"{f['properties']['code']} — {f['properties']['name']}", text=[])
    return features


@bp.get("/audit/now")
@audit_page
def audit_now():  # type: ignore[no-untyped-def]
    """Show every declaration in transit (map and table, stalest fix first) and the open alerts."""
    user, db, moment = acting_user(), get_session(), utcnow()
    number = page_number()
    rows, total = in_transit(db, user, moment, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE)
    mapped, _total = in_transit(db, user, moment, limit=MAP_LIMIT)
    alerts = list(db.scalars(open_alerts(user).limit(ALERT_LIMIT)))
    summary = open_alert_summary(db, user, moment)
    return render_template(
        "audit/now.html", at=moment, page=Page(rows=rows, number=number, size=PAGE_SIZE, total=total),
        declarations=_declarations(db, rows), geojson=now_map(db, mapped), mapped=len(mapped),
        alerts=alerts, alert_total=sum(s.count for s in summary), summary=summary,
        bands=[name for name, _upper in AGE_BANDS], band_names=age_band_names(), age=age, fix_age=fix_age, worst=worst,
        alert_age=lambda opened: age((moment - opened).total_seconds()))


def age_band_names() -> dict[str, str]:
    """Words for the age bands of open alerts."""
    return {"under_1h": _("Under 1 hour"), "1h_to_24h": _("1 to 24 hours"), "1d_to_7d": _("1 to 7 days"),
            "over_7d": _("Over 7 days")}
