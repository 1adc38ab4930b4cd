"""Audit pages on the books: mass balance with the records behind each figure, reconciliation, exports.

Read only: every page is a GET, and the figures come from tracker.domain.balance,
tracker.domain.reconcile and tracker.domain.audit.drilldown. A trader reads their own
dealer's balance only (another dealer's is not found, 404); the reconciliation is for
auditors and licensing admins (403 for everyone else).
"""
from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

from flask import abort, render_template, request
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select

from tracker.domain.access import may_read_balance, sees_everything
from tracker.domain.audit.drilldown import FIGURES, breakdown
from tracker.domain.balance import Balance, balances, dealer_balance
from tracker.domain.reconcile import KINDS, reconcile
from tracker.models import Container, CustomsRecord, Dealer, Declaration, Role, StockEntry, Transaction, User
from tracker.web.auth import acting_user
from tracker.web.database import get_session
from tracker.web.guards import optional_row_id
from tracker.web.portal.blueprint import bp
from tracker.web.portal.pages import PAGE_SIZE, Page, page_number

#: The columns of a balance table, in order.
BALANCE_COLUMNS = FIGURES
RECORD_KINDS = {Declaration: "declaration", Container: "container", Transaction: "transaction",
                StockEntry: "stock_entry"}


def _period() -> tuple[date, date, dict[str, str]]:
    """Read ``from`` and ``to`` (inclusive); default this year so far. Errors by field."""
    today = date.today()
    found, errors = {}, {}
    for name, default in (("from", date(today.year, 1, 1)), ("to", today)):
        raw = request.args.get(name, "").strip()
        try:
            found[name] = date.fromisoformat(raw) if raw else default
        except ValueError:
            found[name] = default
            errors[name] = _("Enter a date as YYYY-MM-DD.")
    if not errors and found["to"] < found["from"]:
        errors["to"] = _("The period ends before it starts.")
        found["to"] = found["from"]
    return found["from"], found["to"], errors


def _chosen_dealer(user: User) -> Dealer | None:
    """Read ``dealer``: a trader's own by default; a dealer the user may not read is not found."""
    raw = request.args.get("dealer", "").strip()
    if not raw:
        return user.dealer if user.role == Role.TRADER else None
    dealer = get_session().get(Dealer, dealer_id) if (dealer_id := optional_row_id(raw)) else None
    if dealer is None or not may_read_balance(user, dealer.id):
        abort(404)
    return dealer


def _readable_dealers(user: User) -> list[Dealer]:
    if user.role == Role.TRADER:
        return []
    return [d for d in get_session().scalars(select(Dealer).order_by(Dealer.legal_name)) if d.is_domestic]


def _rows(user: User, dealer: Dealer | None, start: date, end: date) -> list[Balance]:
    if dealer is not None:
        return [dealer_balance(get_session(), dealer, start, end)]
    if user.role == Role.TRADER:
        abort(404)  # a trader without a dealer has no books to read
    return balances(get_session(), start, end)


@bp.get("/audit/balance")
@login_required
def audit_balance():  # type: ignore[no-untyped-def]
    """Show the mass balance per dealer and national (a trader: their own), each figure a link."""
    user = acting_user()
    start, end, errors = _period()
    dealer = _chosen_dealer(user)
    rows = _rows(user, dealer, start, end)
    return render_template("audit/balance.html", rows=rows, dealer=dealer, start=start, end=end,
                           errors=errors, dealers=_readable_dealers(user), figures=BALANCE_COLUMNS), \
        400 if errors else 200


@bp.get("/audit/records")
@login_required
def audit_records():  # type: ignore[no-untyped-def]
    """List the records that make up one figure of a balance, with their sum."""
    user = acting_user()
    start, end, errors = _period()
    if errors:
        abort(400)
    dealer = _chosen_dealer(user)
    if dealer is None and user.role == Role.TRADER:
        abort(404)
    figure = request.args.get("figure", "")
    try:
        found = breakdown(get_session(), figure, start, end, dealer)
    except ValueError:
        abort(404)
    number = page_number()
    shown = found.entries[(number - 1) * PAGE_SIZE:number * PAGE_SIZE]
    page = Page(rows=shown, number=number, size=PAGE_SIZE, total=len(found.entries))
    ids = {e.dealer_id for e in shown}
    names = dict(get_session().execute(select(Dealer.id, Dealer.legal_name).where(Dealer.id.in_(ids))).all())
    return render_template("audit/records.html", found=found, page=page, dealer=dealer, start=start, end=end,
                           names=names, kind_of=record_kind)


def record_kind(source: object) -> str:
    """Name the kind of record behind a figure: declaration, container, transaction or stock_entry."""
    return RECORD_KINDS[type(source)]


@bp.get("/audit/reconciliation")
@login_required
def audit_reconciliation():  # type: ignore[no-untyped-def]
    """Show the mismatches between declarations, custody, the register and customs, grouped by kind."""
    user = acting_user()
    if not sees_everything(user):
        abort(403)
    start, end, errors = _period()
    db = get_session()
    mismatches = reconcile(db, start, end)
    groups = {kind: [m for m in mismatches if m.kind == kind] for kind in KINDS}
    customs_ids = {m.customs_record_id for m in mismatches if m.customs_record_id}
    customs = {r.id: r for r in db.scalars(select(CustomsRecord).where(CustomsRecord.id.in_(customs_ids)))}
    ssccs = {m.sscc for m in mismatches if m.sscc}
    known = set(db.scalars(select(Container.sscc).where(Container.sscc.in_(ssccs))))
    sale_ids = {m.transaction_id for m in mismatches if m.transaction_id}
    sellers = dict(db.execute(select(Transaction.id, Transaction.seller_id).where(Transaction.id.in_(sale_ids))).all())
    return render_template("audit/reconciliation.html", groups=groups, counts=Counter(m.kind for m in mismatches),
                           customs=customs, known_ssccs=known, sellers=sellers, start=start, end=end,
                           errors=errors), 400 if errors else 200


@bp.get("/audit/exports")
@login_required
def audit_exports():  # type: ignore[no-untyped-def]
    """List every export with what it holds, and download links for the chosen period and dealer."""
    user = acting_user()
    start, end, errors = _period()
    raw = request.args.get("dealer", "").strip()
    dealer = _chosen_dealer(user) if raw or user.role == Role.TRADER else None
    query: dict[str, Any] = {"from": start.isoformat(), "to": end.isoformat()}
    if dealer is not None:
        query["dealer_id"] = dealer.id
    return render_template("audit/exports.html", start=start, end=end, errors=errors, dealer=dealer,
                           dealers=_readable_dealers(user), query=query,
                           reconciliation=user.role != Role.TRADER), 400 if errors else 200
