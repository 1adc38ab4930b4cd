"""The auditor's "Flows": kilograms by route, border crossing and direction, dealer and month.

Each figure links to the declarations behind it (``audit_flow_records``), each table to its
CSV export; a flow map draws routes as lines as wide as their mass. Read only, for the
roles that see every record (403 otherwise, as on "Now").
"""
from __future__ import annotations

from datetime import date
from typing import Any

from flask import abort, render_template, request, url_for
from flask_babel import format_date, gettext as _, lazy_gettext as _l, ngettext
from shapely.geometry import LineString
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tracker.domain import geojson
from tracker.domain.audit.flows import FLOW_GROUPS, FlowFilter, FlowRow, flow_declarations, flows, totals
from tracker.domain.errors import ValidationFailed
from tracker.models import Checkpoint, Dealer, Declaration, DeclarationKind
from tracker.web.auth import acting_user
from tracker.web.database import get_session
from tracker.web.guards import optional_row_id
from tracker.web.i18n import kg
from tracker.web.labels import place
from tracker.web.portal.audit_now import audit_page
from tracker.web.portal.blueprint import bp
from tracker.web.portal.pages import paginate

#: Titles of the tables, by group.
TITLES = {"route": _l("By origin and destination"), "crossing": _l("By border crossing and direction"),
          "dealer": _l("By dealer"), "month": _l("By month of departure")}
#: Widest and narrowest flow line on the map, in pixels.
LINE_WIDTH = (2.0, 14.0)


def read_filter() -> tuple[FlowFilter, dict[str, str]]:
    """Read the filter form (from, to, kind, dealer_id); each bad field leaves its part out and says why."""
    errors: dict[str, str] = {}
    days: dict[str, date | None] = {}
    for name in ("from", "to"):
        raw = request.args.get(name, "").strip()
        try:
            days[name] = date.fromisoformat(raw) if raw else None
        except ValueError:
            days[name], errors[name] = None, _("Enter a date as YYYY-MM-DD.")
    if days["from"] and days["to"] and days["to"] < days["from"]:
        days["to"], errors["to"] = None, _("The period ends before it starts.")
    kind_raw, dealer_raw = request.args.get("kind", ""), request.args.get("dealer_id", "")
    kind = DeclarationKind(kind_raw) if kind_raw in {k.value for k in DeclarationKind} else None
    if kind_raw and kind is None:
        errors["kind"] = _("Choose a kind from the list.")
    dealer = optional_row_id(dealer_raw)
    if dealer_raw and dealer is None:
        errors["dealer_id"] = _("Choose a dealer from the list.")
    return FlowFilter(days["from"], days["to"], kind, dealer), errors


def filter_args(f: FlowFilter) -> dict[str, Any]:
    """The query arguments that repeat a filter (for links to drill-downs and exports)."""
    args = {"from": f.start and f.start.isoformat(), "to": f.end and f.end.isoformat(),
            "kind": f.kind and f.kind.value, "dealer_id": f.dealer_id}
    return {name: value for name, value in args.items() if value is not None}


def records_url(group: str, row: FlowRow, f: FlowFilter) -> str:
    """Link to the declarations behind one row."""
    return url_for("portal.audit_flow_records", group=group, key=row.key, **filter_args(f))


def _line_width(grams: int, heaviest: int) -> float:
    low, high = LINE_WIDTH
    return round(low + (high - low) * grams / heaviest, 1) if heaviest else low


def flow_map(db: Session, tables: dict[str, list[FlowRow]], f: FlowFilter) -> dict[str, Any]:
    """Return routes as lines (width by declared mass) and border crossings as markers (in and out)."""
    routes, crossings = tables["route"], tables["crossing"]
    ids = {r.names[end]["id"] for r in routes for end in ("origin", "destination")}
    ids |= {r.names["crossing"]["id"] for r in crossings}
    places = {c.id: c for c in db.scalars(select(Checkpoint).where(Checkpoint.id.in_(ids)))} if ids else {}
    heaviest = max((r.declared_g for r in routes), default=0)
    features = []
    for r in routes:
        a, b = places[r.names["origin"]["id"]], places[r.names["destination"]["id"]]
        features.append(geojson.feature(
            "flow", LineString([(a.lon, a.lat), (b.lon, b.lat)]), f"flow-{r.key}", key=r.key,
            weight=_line_width(r.declared_g, heaviest), label=f"{place(a)} → {place(b)}",
            text=[kg(r.declared_g), _count(r)], url=records_url("route", r, f), link_text=_("The declarations")))
    features += _crossing_markers(places, crossings, f)
    for place_id in sorted({r.names[end]["id"] for r in routes for end in ("origin", "destination")}):
        checkpoint = geojson.checkpoint_feature(places[place_id])
        checkpoint["properties"].update(label=place(places[place_id]), text=[places[place_id].code])
        features.append(checkpoint)
    return geojson.collection(features)


def _count(row: FlowRow) -> str:
    return ngettext("%(num)s declaration", "%(num)s declarations", row.declarations)


def _crossing_markers(places: dict[int, Checkpoint], rows: list[FlowRow], f: FlowFilter) -> list[dict[str, Any]]:
    """One marker per border crossing, its popup giving the kilograms entering and leaving there."""
    by_place: dict[int, dict[str, FlowRow]] = {}
    for r in rows:
        by_place.setdefault(r.names["crossing"]["id"], {})[r.names["direction"]] = r
    markers = []
    for place_id, ways in sorted(by_place.items()):
        c = places[place_id]
        entering, leaving = ways.get("import"), ways.get("export")
        # A popup has one link: to the heavier direction's declarations (the table links both).
        heavier = max((r for r in (entering, leaving) if r is not None), key=lambda r: r.declared_g)
        markers.append(geojson.feature(
            "crossing", geojson.point(c.lon, c.lat), f"crossing-{c.code}", code=c.code, label=place(c), text=[
                _("In: %(mass)s", mass=kg(entering.declared_g if entering else 0)),
                _("Out: %(mass)s", mass=kg(leaving.declared_g if leaving else 0))],
            url=records_url("crossing", heavier, f),
            link_text=_("Declarations entering") if heavier is entering else _("Declarations leaving")))
    return markers


def month_name(key: str) -> str:
    """Name a month key (YYYY-MM) in the user's language ("March 2026", "март 2026")."""
    year, month = key.split("-")
    return format_date(date(int(year), int(month), 1), "LLLL y")


def _form_choices(db: Session) -> dict[str, Any]:
    return {"kinds": list(DeclarationKind),
            "dealers": list(db.execute(select(Dealer.id, Dealer.legal_name, Dealer.country)
                                       .order_by(Dealer.legal_name, Dealer.id)))}


@bp.get("/audit/flows")
@audit_page
def audit_flows():  # type: ignore[no-untyped-def]
    """Show the four flow tables, their totals and the flow map over the filtered declarations."""
    user, db = acting_user(), get_session()
    f, errors = read_filter()
    tables = {group: flows(db, user, group, f) for group in FLOW_GROUPS}
    count, declared, received = totals(db, user, f)
    return render_template(
        "audit/flows.html", f=f, args=filter_args(f), errors=errors, tables=tables, titles=TITLES,
        total={"declarations": count, "declared_g": declared, "received_g": received},
        geojson=flow_map(db, tables, f), records_url=records_url, month_name=month_name,
        **_form_choices(db)), 400 if errors else 200


@bp.get("/audit/flows/records")
@audit_page
def audit_flow_records():  # type: ignore[no-untyped-def]
    """List the declarations behind one figure of a flow table (its group and key, same filters)."""
    user, db = acting_user(), get_session()
    f, errors = read_filter()
    group, key = request.args.get("group", ""), request.args.get("key", "")
    if errors or group not in FLOW_GROUPS:
        abort(404)
    try:
        query = flow_declarations(user, group, key, f)
    except ValidationFailed:
        abort(404)
    row = next((r for r in flows(db, user, group, f) if r.key == key), None)
    page = paginate(db, query.options(selectinload(Declaration.items)))
    return render_template("audit/flows_records.html", group=group, key=key, row=row, f=f, args=filter_args(f),
                           page=page, title=TITLES[group], dealer=f.dealer_id and db.get(Dealer, f.dealer_id),
                           month_name=month_name)
