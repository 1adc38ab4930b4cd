"""Audit exports: GeoJSON, GPX and KML of a declaration, CSV tables, EPCIS 2.0 custody events.

Every export is a streamed download (read only: GET, nothing changes). What it holds goes
through the same access filters as the lists: a trader gets their own dealer's records,
and another dealer's declaration or dealer id is not found (404).
"""
from __future__ import annotations

import re
from datetime import date
from typing import Any, Callable, Iterator, TypeVar

from flask import Response, abort, current_app, request
from flask_login import login_required
from sqlalchemy.orm import Session

from tracker.domain.access import may_read_balance, may_read_reconciliation
from tracker.domain.audit import FlowFilter, compliance
from tracker.domain.declarations import find_declaration
from tracker.domain.errors import NotFound, ValidationFailed
from tracker.domain.exports import Period, audit_tables, csv_tables, epcis, geojson, gpx, kml
from tracker.domain.exports.csv_tables import TABLES, Scope
from tracker.domain.geojson import COLLECTION_SCHEMA
from tracker.models import Dealer, Declaration, DeclarationKind, Role, User, utcnow
from tracker.web.api import bp
from tracker.web.api.openapi import PATHS, ROW_ID, error_responses, op
from tracker.web.api.requests import enum_arg
from tracker.web.auth import acting_user
from tracker.web.database import get_session, session_factory
from tracker.web.guards import optional_row_id

MAPS: dict[str, tuple[Callable[..., Iterator[str]], str]] = {
    "geojson": (geojson.declaration_geojson, geojson.MEDIA_TYPE),
    "gpx": (gpx.declaration_gpx, gpx.MEDIA_TYPE),
    "kml": (kml.declaration_kml, kml.MEDIA_TYPE),
}
T = TypeVar("T")


def download(write: Callable[[Session], Iterator[str]], media_type: str, filename: str) -> Response:
    """Return a streamed attachment: each chunk goes out as soon as ``write`` produces it.

    The stream reads through a session of its own, opened when the first chunk is asked
    for and closed when the download ends: the request's session is closed at teardown,
    before the body is sent. Checks (404, 403, 422) happen before, in the view.
    """
    factory = session_factory()

    def chunks() -> Iterator[bytes]:
        with factory() as db:
            for chunk in write(db):
                yield chunk.encode("utf-8")

    response = Response(chunks(), mimetype=media_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _day(name: str, errors: dict[str, str]) -> date | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[name] = "a date (YYYY-MM-DD)"
        return None


def read_period(whole_year_default: bool = False) -> Period:
    """Read ``from`` and ``to`` (YYYY-MM-DD, inclusive, UTC days); open ends unless a report needs both."""
    errors: dict[str, str] = {}
    start, end = _day("from", errors), _day("to", errors)
    if whole_year_default:
        today = date.today()
        start, end = start or date(today.year, 1, 1), end or today
    if not errors and start and end and end < start:
        errors["to"] = "the period ends before it starts"
    if errors:
        raise ValidationFailed(errors)
    return Period(start, end)


def read_dealer(user: User) -> Dealer | None:
    """Read ``dealer_id``: the dealer whose records to export; another dealer's is not found for a trader."""
    raw = request.args.get("dealer_id")
    if raw is None or raw == "":
        return None
    dealer_id = optional_row_id(raw)
    if dealer_id is None:
        raise ValidationFailed({"dealer_id": "a dealer id (a whole number)"})
    dealer = get_session().get(Dealer, dealer_id)
    if dealer is None or (user.role == Role.TRADER and dealer.id != user.dealer_id):
        raise NotFound(f"no dealer {raw}")
    return dealer


def _same(stream: Session, record: T) -> T:
    """Return ``record`` as the stream's own session loads it (the request's session is closed by then)."""
    found = stream.get(type(record), record.id)  # type: ignore[attr-defined]
    assert found is not None
    return found


def _span(period: Period) -> str:
    return "_".join(d.isoformat() for d in (period.start, period.end) if d is not None)


def _filename(stem: str, period: Period, extension: str) -> str:
    span = _span(period)
    return re.sub(r"[^A-Za-z0-9._-]", "-", f"{stem}{'_' + span if span else ''}.{extension}")


def _declaration_stem(declaration: Declaration) -> str:
    return f"declaration-{declaration.reference or declaration.id}"


@bp.get("/exports/declarations/<int:declaration_id>.geojson", defaults={"fmt": "geojson"})
@bp.get("/exports/declarations/<int:declaration_id>.gpx", defaults={"fmt": "gpx"})
@bp.get("/exports/declarations/<int:declaration_id>.kml", defaults={"fmt": "kml"})
@login_required
def export_declaration_map(declaration_id: int, fmt: str):  # type: ignore[no-untyped-def]
    """The declaration's route, corridor, places, track and alerts as GeoJSON, GPX or KML."""
    db = get_session()
    declaration = find_declaration(db, acting_user(), declaration_id)
    period = read_period()
    write, media_type = MAPS[fmt]
    return download(lambda stream: write(stream, _same(stream, declaration), period), media_type,
                    _filename(_declaration_stem(declaration), period, fmt))


@bp.get("/exports/declarations/<int:declaration_id>/positions.csv")
@login_required
def export_positions(declaration_id: int):  # type: ignore[no-untyped-def]
    """Every fix of the declaration's beacon as CSV."""
    db = get_session()
    declaration = find_declaration(db, acting_user(), declaration_id)
    period = read_period()
    return download(lambda stream: csv_tables.positions_csv(stream, _same(stream, declaration), period),
                    csv_tables.MEDIA_TYPE,
                    _filename(_declaration_stem(declaration) + "-positions", period, "csv"))


@bp.get("/exports/declarations/<int:declaration_id>/compliance.csv")
@login_required
def export_compliance(declaration_id: int):  # type: ignore[no-untyped-def]
    """The route-compliance report of one declaration as CSV, one section after another."""
    db = get_session()
    report = compliance(db, acting_user(), declaration_id)  # 404 for a declaration the user may not read
    stem = f"declaration-{report.reference or report.declaration_id}-compliance"
    return download(lambda _stream: audit_tables.compliance_csv(report), csv_tables.MEDIA_TYPE,
                    _filename(stem, Period(None, None), "csv"))


@bp.get("/exports/alerts.geojson")
@login_required
def export_alerts_map():  # type: ignore[no-untyped-def]
    """Every located alert the user may read, opened in the period, as GeoJSON points."""
    period, user = read_period(), acting_user()
    return download(lambda stream: geojson.alerts_geojson(stream, _same(stream, user), period), geojson.MEDIA_TYPE,
                    _filename("alerts", period, "geojson"))


def epcis_base_uri() -> str:
    """Return the base of the tracker's own identifiers in EPCIS documents.

    EPCIS_BASE_URI (app config or instance/config.toml), else this server's ``/id/``: set it
    in production so identifiers stay the same whatever host name a request used.
    """
    settings = current_app.config.get("SETTINGS")
    from_file = settings.extra.get("EPCIS_BASE_URI") if settings is not None else None
    return str(current_app.config.get("EPCIS_BASE_URI") or from_file or request.url_root + "id/")


@bp.get("/exports/custody-events.epcis.jsonld")
@login_required
def export_custody_epcis():  # type: ignore[no-untyped-def]
    """Custody events of the period (and dealer, or declaration) as an EPCIS 2.0 JSON-LD document."""
    user, db = acting_user(), get_session()
    period, dealer = read_period(), read_dealer(user)
    raw = request.args.get("declaration_id", "")
    declaration_id = optional_row_id(raw)
    if raw and declaration_id is None:
        raise ValidationFailed({"declaration_id": "a declaration id (a whole number)"})
    if declaration_id is not None:
        find_declaration(db, user, declaration_id)
    dealer_id, base_uri = dealer.id if dealer else None, epcis_base_uri()
    return download(lambda stream: epcis.custody_epcis(stream, Scope(_same(stream, user), period, dealer_id),
                                                       base_uri, declaration_id), epcis.MEDIA_TYPE,
                    _filename("custody-events", period, "epcis.jsonld"))


Plan = tuple[Callable[[Session], Iterator[str]], str]   # what writes the file, and its name


def _record_table(table: str, user: User) -> Plan:
    """Plan a table of records (declarations, custody events, alerts, transactions) in the user's view."""
    period, dealer = read_period(), read_dealer(user)
    dealer_id, write = (dealer.id if dealer else None), TABLES[table]
    return (lambda stream: write(stream, Scope(_same(stream, user), period, dealer_id)),
            _filename(table, period, "csv"))


def _reconciliation(user: User) -> Plan:
    if not may_read_reconciliation(user):
        abort(403, description="the reconciliation is for customs, auditors and the licensing authority")
    period = read_period(whole_year_default=True)
    start, end = period.start or date.min, period.end or date.max
    return lambda stream: csv_tables.reconciliation_csv(stream, start, end), _filename("reconciliation", period, "csv")


def _balance(user: User) -> Plan:
    period, dealer = read_period(whole_year_default=True), read_dealer(user)
    start, end = period.start or date.min, period.end or date.max
    if dealer is None and user.role == Role.TRADER:
        dealer = get_session().get(Dealer, user.dealer_id) if user.dealer_id else None
        if dealer is None or not may_read_balance(user, dealer.id):
            raise NotFound("no dealer of yours")
    name = _filename("balance", period, "csv")
    if dealer is None:
        return lambda stream: csv_tables.balance_csv(stream, start, end), name
    return lambda stream: csv_tables.balance_csv(stream, start, end, _same(stream, dealer)), name


def _in_transit(user: User) -> Plan:
    now = utcnow()
    return (lambda stream: audit_tables.in_transit_csv(stream, _same(stream, user), now),
            f"in-transit_{now:%Y-%m-%dT%H%MZ}.csv")


def _flows(user: User) -> Plan:
    group = request.args.get("group", "route")
    if group not in audit_tables.FLOW_LAYOUTS:
        raise ValidationFailed({"group": f"one of {', '.join(audit_tables.FLOW_LAYOUTS)}"})
    kind, period, dealer = enum_arg("kind", DeclarationKind), read_period(), read_dealer(user)
    covering = FlowFilter(period.start, period.end, kind, dealer.id if dealer else None)
    return (lambda stream: audit_tables.flows_csv(stream, _same(stream, user), group, covering),
            _filename(f"flows-{group}", period, "csv"))


#: Tables computed whole by their report modules: name -> plan.
REPORT_TABLES: dict[str, Callable[[User], Plan]] = {
    "balance": _balance, "reconciliation": _reconciliation, "in-transit": _in_transit, "flows": _flows,
}


@bp.get("/exports/<table>.csv")
@login_required
def export_table(table: str):  # type: ignore[no-untyped-def]
    """One audit table as CSV (the names in TABLES and REPORT_TABLES)."""
    user = acting_user()
    if table in REPORT_TABLES:
        write, filename = REPORT_TABLES[table](user)
    elif table in TABLES:
        write, filename = _record_table(table, user)
    else:
        raise NotFound(f"no table {table}")
    return download(write, csv_tables.MEDIA_TYPE, filename)


# ---------------------------------------------------------------- OpenAPI
_FILE = {"type": "string", "format": "binary"}
_PERIOD = [{"name": "from", "in": "query", "schema": {"type": "string", "format": "date"},
            "description": "first UTC day (inclusive); open when absent"},
           {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"},
            "description": "last UTC day (inclusive); open when absent"}]
_DEALER = {"name": "dealer_id", "in": "query", "schema": ROW_ID,
           "description": "only this dealer's records (a trader: their own only, another is 404)"}
_DECLARATION = {"name": "declaration_id", "in": "path", "required": True, "schema": ROW_ID}


#: What the JSON exports hold (GeoJSON and JSON-LD are JSON documents, not opaque files).
_JSON_DOCUMENTS = {
    geojson.MEDIA_TYPE: COLLECTION_SCHEMA,
    epcis.MEDIA_TYPE: {"type": "object", "required": ["@context", "type", "epcisBody"], "properties": {
        "type": {"const": "EPCISDocument"}, "epcisBody": {"type": "object"}}},
}


def _file(media_type: str, description: str) -> dict[str, Any]:
    return {"description": description + " (streamed; Content-Disposition names the file)",
            "content": {media_type: {"schema": _JSON_DOCUMENTS.get(media_type, _FILE)}}}


for _fmt, (_write, _media) in MAPS.items():
    PATHS[f"/exports/declarations/{{declaration_id}}.{_fmt}"] = {"get": op(
        f"The declaration's route, corridor, places, beacon track and alerts as {_fmt.upper()}",
        {"200": _file(_media, _fmt.upper()), **error_responses(401, 404, 422)},
        parameters=[_DECLARATION, *_PERIOD])}
PATHS["/exports/declarations/{declaration_id}/positions.csv"] = {"get": op(
    "Every fix of the declaration's beacon as CSV", {"200": _file("text/csv", "CSV"), **error_responses(401, 404, 422)},
    parameters=[_DECLARATION, *_PERIOD])}
PATHS["/exports/declarations/{declaration_id}/compliance.csv"] = {"get": op(
    "The declaration's route-compliance report as CSV: sections summary, excursion, stop, signal_gap, "
    "checkpoint, custody and receipt, one row each", {"200": _file("text/csv", "CSV"), **error_responses(401, 404)},
    parameters=[_DECLARATION])}
PATHS["/exports/alerts.geojson"] = {"get": op(
    "Located alerts the user may read, opened in the period, as GeoJSON points",
    {"200": _file(geojson.MEDIA_TYPE, "GeoJSON"), **error_responses(401, 422)}, parameters=_PERIOD)}
PATHS["/exports/custody-events.epcis.jsonld"] = {"get": op(
    "Custody events as an EPCIS 2.0 JSON-LD document of ObjectEvents (SSCC as GS1 Digital Link URIs, "
    "CBV bizStep and disposition, the declaration as bizTransaction)",
    {"200": _file(epcis.MEDIA_TYPE, "EPCISDocument"), **error_responses(401, 404, 422)},
    parameters=[*_PERIOD, _DEALER, {"name": "declaration_id", "in": "query", "schema": ROW_ID}])}
PATHS["/exports/{table}.csv"] = {"get": op(
    "An audit table as CSV (RFC 4180, UTF-8 with BOM, times UTC, grams as integers, formula cells quoted "
    "with '). Balance and reconciliation default to this year so far; reconciliation is not for traders; "
    "in-transit is now (no period); flows take group and kind",
    {"200": _file("text/csv", "CSV"), **error_responses(401, 403, 404, 422)},
    parameters=[{"name": "table", "in": "path", "required": True,
                 "schema": {"enum": [*TABLES, *REPORT_TABLES]}}, *_PERIOD, _DEALER,
                {"name": "group", "in": "query", "schema": {"enum": list(audit_tables.FLOW_LAYOUTS),
                                                             "default": "route"}, "description": "flows only"},
                {"name": "kind", "in": "query", "schema": {"enum": [k.value for k in DeclarationKind]},
                 "description": "flows only"}])}
