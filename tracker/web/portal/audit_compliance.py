"""Portal pages: the route compliance of one declaration, its trip replay, and the one-page PDF.

Whoever may see the declaration may see its compliance (auditors and the licensing
authority every one, officers the submitted ones, traders their own dealer's; 404
otherwise), as the audit API allows. Nothing here changes anything.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Response, jsonify, render_template, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import login_required
from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.domain.audit import compliance
from tracker.domain.audit.compliance import Compliance, Episode, expected_route, read_track
from tracker.domain.audit.replay import replay_rows, trip_alerts
from tracker.domain.audit.report_pdf import MAP_TRACK_POINTS, MapPicture, Sheet, Table, evenly_spaced, render
from tracker.domain.route_geometry import corridor_outline
from tracker.domain.declarations import find_declaration
from tracker.models import Alert, Declaration, utcnow
from tracker.web.auth import acting_user
from tracker.web.database import get_session
from tracker.web.i18n import kg, number, time_zone_name, when
from tracker.web.labels import label, place
from tracker.web.portal.blueprint import bp
from tracker.web.portal.navigation import has_view


@bp.get("/declarations/<int:declaration_id>/compliance")
@login_required
def audit_compliance(declaration_id: int):  # type: ignore[no-untyped-def]
    """Show the route compliance of a declaration the user may see, with the trip's replay."""
    user, db = acting_user(), get_session()
    record = find_declaration(db, user, declaration_id)
    report = compliance(db, user, record.id)
    return render_template("audit/compliance.html", d=record, report=report, words=Words(),
                           trip_alerts=trip_alerts(db, report),
                           period=period(record, report), route=route_names(record), alert_link=alert_link,
                           time_zone=time_zone_name())


@bp.get("/declarations/<int:declaration_id>/track.json")
@login_required
def audit_track(declaration_id: int):  # type: ignore[no-untyped-def]
    """Return the fixes as [[epoch seconds, lat, lon, flags, located], ...] in time order (audit.replay)."""
    user, db = acting_user(), get_session()
    record = find_declaration(db, user, declaration_id)
    return jsonify(replay_rows(db, record.id))


@bp.get("/declarations/<int:declaration_id>/compliance.pdf")
@login_required
def audit_compliance_pdf(declaration_id: int):  # type: ignore[no-untyped-def]
    """Return the route-compliance report as one A4 page with the map, in the user's language."""
    user, db = acting_user(), get_session()
    record = find_declaration(db, user, declaration_id)
    report = compliance(db, user, record.id)
    _stored, _t, lon, lat = read_track(db, record.id)
    keep = evenly_spaced(len(lon), MAP_TRACK_POINTS)   # a page's map shows no more (a track may be 10^6 fixes)
    pdf = render(sheet(record, report, list(zip(lon[keep].tolist(), lat[keep].tolist())), alert_places(db, record)))
    name = f"compliance-{record.reference or record.id}.pdf"
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{name}"'})


# ---------------------------------------------------------------- words
class Words:
    """The page's and the PDF's ways of showing figures, in the user's language."""

    @staticmethod
    def share(value: float | None) -> str:
        return "—" if value is None else _("%(value)s %%", value=number(value * 100, 1))

    @staticmethod
    def distance(metres: float | None) -> str:
        if metres is None:
            return "—"
        if metres < 1000:
            return _("%(value)s m", value=number(metres))
        return _("%(value)s km", value=number(metres / 1000, 1))

    @staticmethod
    def duration(seconds: float | None) -> str:
        if seconds is None:
            return _("still going on")
        minutes = round(seconds / 60)
        if seconds < 60:
            return _("%(s)s s", s=round(seconds))
        if minutes < 60:
            return _("%(m)s min", m=minutes)
        return _("%(h)s h %(m)s min", h=minutes // 60, m=minutes % 60)

    @staticmethod
    def passage(p: Any, late: tuple[int, ...]) -> str:
        if p.checkpoint_id in late:
            return _("out of order")
        return {"seen": _("passed"), "missing": _("not seen"), "unexpected": _("not expected")}[p.status]

    @staticmethod
    def role(p: Any) -> str:
        if p.role == "checkpoint":
            return _("Checkpoint %(seq)s", seq=(p.seq or 0) + 1)
        return {"origin": _("Origin"), "destination": _("Destination"), "unexpected": _("Not on the route")}[p.role]

    @staticmethod
    def difference(grams: int | None) -> str:
        if grams is None:
            return "—"
        return ("+" if grams > 0 else "") + kg(grams)


def period(d: Declaration, report: Compliance) -> tuple[datetime | None, datetime | None]:
    """Return when the trip began and ended: departure and receipt, else the first and last fix."""
    c = report.coverage
    start = d.departed_at or (c.first_fix if c else None)
    end = d.received_at or d.arrived_at or (c.last_fix if c else None)
    return start, end


def route_names(d: Declaration) -> str:
    """Name the places the declaration expects, in order (a checkpoint that is also the destination once)."""
    return " → ".join(place(checkpoint) for _role, _seq, checkpoint in expected_route(d))


def alert_places(db: Session, d: Declaration) -> list[tuple[float, float]]:
    """Return where the declaration's alerts were raised (those with a place)."""
    rows = db.execute(select(Alert.lon, Alert.lat).where(
        Alert.declaration_id == d.id, Alert.lon.is_not(None), Alert.lat.is_not(None))).all()
    return [(lon, lat) for lon, lat in rows]


# ---------------------------------------------------------------- the PDF's sheet
def sheet(d: Declaration, report: Compliance, track: list[tuple[float, float]],
          alerts: list[tuple[float, float]]) -> Sheet:
    """Word the compliance report of ``d`` for the one-page PDF."""
    w = Words()
    start, end = period(d, report)
    route = route_names(d)
    header = (
        (_("Reference"), d.reference or _("not yet given (declaration %(id)s)", id=d.id)),
        (_("Kind"), str(label(d.kind))),
        (_("Status"), str(label(d.status))),
        (_("Consignor"), f"{d.consignor.legal_name} ({d.consignor.country})"),
        (_("Consignee"), f"{d.consignee.legal_name} ({d.consignee.country})"),
        (_("Route"), route),
        (_("Corridor"), _("%(width)s m each side of the route", width=number(d.corridor_m))),
        (_("Period"), f"{when(start, 'short')} — {when(end, 'short')}"),
        (_("Declared net mass"), kg(d.declared_net_g)),
    )
    return Sheet(
        title=_("Route compliance report: %(label)s", label=d.reference or d.label),
        header=header, figures=figures(report), tables=tables(report),
        picture=picture(d, track, alerts), more=lambda n: ngettext("and %(num)s more", "and %(num)s more", n),
        distance=w.distance,
        footer=_("Generated %(time)s (%(zone)s). Times are in %(zone)s.", time=when(utcnow()),
                 zone=time_zone_name()),
        metadata={"title": _("Route compliance report: %(label)s", label=d.reference or d.label),
                  "subject": _("Route compliance"), "author": _("Mercury shipment tracking")})


def figures(report: Compliance) -> tuple[tuple[str, str], ...]:
    """Return the key figures: shares inside the corridor, totals, counts of episodes."""
    w, c = Words(), report.coverage
    if c is None:
        coverage = ((_("Inside the corridor, by distance"), "—"), (_("Inside the corridor, by time"), "—"))
    else:
        coverage = (
            (_("Inside the corridor, by distance"), w.share(c.distance_share)),
            (_("Inside the corridor, by time"), w.share(c.time_share)),
            (_("Distance inside / tracked"), f"{w.distance(c.inside_distance_m)} / {w.distance(c.distance_m)}"),
            (_("Time inside / tracked"), f"{w.duration(c.inside_time_s)} / {w.duration(c.time_s)}"),
            (_("Fixes located / stored"), f"{number(c.located)} / {number(c.positions)}"),
        )
    received = report.received_g
    return coverage + (
        (_("Excursions"), number(len(report.excursions))),
        (_("Stops"), number(len(report.stops))),
        (_("Signal gaps"), number(len(report.signal_gaps))),
        (_("Receipt difference"), "—" if received is None else Words.difference(received - report.declared_g)),
    )


def _episode_rows(episodes: tuple[Episode, ...], distance: bool) -> tuple[tuple[str, ...], ...]:
    w = Words()
    return tuple((when(e.start, "short"), when(e.end, "short") if e.end else "—", w.duration(e.duration_s),
                  *((w.distance(e.max_distance_m),) if distance else ()), str(label(e.status)))
                 for e in episodes)


def tables(report: Compliance) -> tuple[Table, ...]:
    """Return the report's tables: excursions, stops, gaps, custody against the checkpoints, receipt."""
    w = Words()
    span = (_("Start"), _("End"), _("Duration"))
    passages = report.passages
    late = report.out_of_order
    receipt = report.receipt
    return (
        Table(_("Excursions from the corridor"), (*span, _("Farthest"), _("Alert status")), (0.25, 0.25, 0.18, 0.16, 0.16),
              _episode_rows(report.excursions, True), _("No excursion: the beacon stayed inside the corridor."), 6),
        Table(_("Unscheduled stops"), (*span, _("Alert status")), (0.3, 0.3, 0.2, 0.2),
              _episode_rows(report.stops, False), _("No unscheduled stop."), 4),
        Table(_("Signal gaps"), (*span, _("Alert status")), (0.3, 0.3, 0.2, 0.2),
              _episode_rows(report.signal_gaps, False), _("No signal gap."), 4),
        Table(_("Custody at the expected checkpoints"), (_("Place on the route"), _("Checkpoint"), _("First seen"),
                                                         _("Events"), _("Result")),
              (0.2, 0.2, 0.25, 0.1, 0.25),
              tuple((w.role(p), p.code, when(p.first_seen, "short") if p.first_seen else "—",
                     number(len(p.event_ids)), w.passage(p, late)) for p in passages),
              _("No checkpoint expected."), 8,
              frozenset(i for i, p in enumerate(passages) if p.checkpoint_id in late or p.status != "seen")),
        Table(_("Receipt by container"), (_("SSCC"), _("Declared net"), _("Received net"), _("Difference"),
                                          _("Tolerance"), _("Seal")),
              (0.26, 0.15, 0.15, 0.15, 0.14, 0.15),
              tuple((line.sscc, kg(line.declared_g), kg(line.received_g), w.difference(line.difference_g),
                     f"± {kg(line.tolerance_g)}", seal(line.seal_intact)) for line in receipt),
              _("No container on this declaration."), 6,
              frozenset(i for i, line in enumerate(receipt) if line.beyond_tolerance or line.seal_intact is False)),
    )


def seal(intact: bool | None) -> str:
    """Say what the receipt found on a container's seal."""
    if intact is None:
        return "—"
    return _("intact") if intact else _("broken")


def picture(d: Declaration, track: list[tuple[float, float]], alerts: list[tuple[float, float]]) -> MapPicture:
    """Return what the PDF's map shows."""
    corridor = corridor_outline(d)
    checkpoints = [place.checkpoint for place in d.route_places]
    return MapPicture(
        corridor=corridor, route=d.route, track=track, alerts=alerts,
        checkpoints=[(cp.lon, cp.lat, cp.code) for cp in checkpoints],
        legend=(("corridor", _("Permitted corridor")), ("route", _("Planned route")), ("track", _("Beacon track")),
                ("alert", _("Alert")), ("checkpoint", _("Checkpoint"))),
        empty=_("No route and no fixes yet: nothing to draw."))


def alert_link(alert_id: int) -> str:
    """Return the portal's page of an alert, else its record in the API."""
    if has_view("portal.alert"):
        return url_for("portal.alert", alert_id=alert_id)
    return url_for("api.get_alert", alert_id=alert_id)
