"""The transaction register and the dealer's book stock: sales, purchases, production and use.

A trader reads their own dealer's entries, enters its sales and production or use, and
answers the sales other dealers enter as sold to it (confirm, or dispute with a reason,
on a page of its own so that one click never decides); the auditor and the licensing
authority read any dealer's, chosen from a list.
"""
from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import or_, select

from tracker.domain.access import Action, may, sees_everything
from tracker.domain.balance import book_stock, physical_stock
from tracker.domain.drafting import counterparties
from tracker.domain.errors import ValidationFailed
from tracker.domain.register import (
    SaleInput,
    StockEntryInput,
    find_transaction,
    record_sale,
    record_stock_entry,
    today_kg,
)
from tracker.domain.sale_answers import confirm_sale, dispute_sale
from tracker.domain.sale_state import awaits_answer_from, corrected, standings
from tracker.models import HOME_COUNTRY, Activity, Dealer, StockEntry, StockEntryKind, Transaction, User
from tracker.web.auth import acting_user, requires
from tracker.web.database import get_session
from tracker.web.guards import row_id
from tracker.web.i18n import day, kg
from tracker.web.portal.blueprint import bp
from tracker.web.portal.pages import paginate
from tracker.web.portal.mass_fields import read_kg_field
from tracker.web.portal.trader_forms import FormValues, parse_date, parse_whole

RECENT_STOCK_ENTRIES = 25
ENTRY_ACTIVITY = {StockEntryKind.PRODUCTION: Activity.PRODUCTION, StockEntryKind.USE: Activity.USE}


def _dealer(user: User) -> Dealer | None:
    """Return the dealer whose books are shown: a trader's own, else the one chosen (403 for others)."""
    db = get_session()
    if may(user, Action.RECORD_TRANSACTION):
        return user.dealer
    if not sees_everything(user):
        abort(403, description=_("Only traders, auditors and the licensing authority read the register."))
    chosen = request.args.get("dealer", type=row_id)
    return db.get(Dealer, chosen) if chosen is not None else None


def _entry_kinds(dealer: Dealer) -> list[StockEntryKind]:
    """Return what the dealer's licences allow it to enter in the stock book today."""
    today = today_kg()
    return [kind for kind, activity in ENTRY_ACTIVITY.items()
            if any(licence.covers(activity, today) for licence in dealer.licenses)]


def _page(sale: Any = None, sale_errors: Any = None, entry: Any = None, entry_errors: Any = None,
          status: int = 200):  # type: ignore[no-untyped-def]
    """Render the register of the dealer in view, with the forms of a trader."""
    user, db = acting_user(), get_session()
    dealer = _dealer(user)
    context: dict[str, Any] = {"dealer": dealer, "may_record": may(user, Action.RECORD_TRANSACTION),
                               "today": today_kg().isoformat()}
    if sees_everything(user):
        context["dealers"] = db.scalars(select(Dealer).where(Dealer.country == HOME_COUNTRY)
                                        .order_by(Dealer.legal_name)).all()
    if dealer is not None:
        context |= {
            "page": paginate(db, select(Transaction).where(
                or_(Transaction.seller_id == dealer.id, Transaction.buyer_id == dealer.id))
                .order_by(Transaction.transaction_date.desc(), Transaction.id.desc())),
            "entries": db.scalars(select(StockEntry).where(StockEntry.dealer_id == dealer.id)
                                  .order_by(StockEntry.entry_date.desc(), StockEntry.id.desc())
                                  .limit(RECENT_STOCK_ENTRIES)).all(),
            "book_g": book_stock(db, dealer.id), "physical_g": physical_stock(db, dealer.id),
            "entry_kinds": _entry_kinds(dealer),
        }
        rows = list(context["page"].rows)
        context["standings"] = standings(db, rows)
        reversed_ids = corrected(db, rows)
        context["answerable"] = {t.id for t in rows
                                 if awaits_answer_from(user, t, context["standings"][t.id], reversed_ids)}
        ids = {i for t in rows for i in (t.seller_id, t.buyer_id)}
        context["names"] = {i: name for i, name in db.execute(
            select(Dealer.id, Dealer.legal_name).where(Dealer.id.in_(ids)))}
    if context["may_record"]:
        context |= {"counterparties": counterparties(db, user),
                    "sale": FormValues(sale or {"transaction_date": context["today"]}),
                    "sale_errors": sale_errors or {},
                    "entry": FormValues(entry or {"entry_date": context["today"]}),
                    "entry_errors": entry_errors or {}}
    return render_template("trader/register.html", **context), status


@bp.get("/register")
@login_required
def register():  # type: ignore[no-untyped-def]
    """Show the register of sales and purchases, the book stock and the stock book."""
    return _page()


def _sale_input(user: User, form: Any) -> SaleInput:
    """Read the sale form: the trader's dealer sells to the buyer chosen (the counterparty)."""
    errors: dict[str, Any] = {}
    other = parse_whole(form.get("counterparty", ""), "counterparty", errors, _("Choose from the list."))
    if other is None and "counterparty" not in errors:
        errors["counterparty"] = _("Choose the buyer.")
    mass = read_kg_field(form.get("mass", ""), "mass", errors)
    on = parse_date(form.get("transaction_date", ""), "transaction_date", errors)
    if errors:
        raise ValidationFailed(errors)
    return SaleInput(seller_id=user.dealer_id, buyer_id=other, mass_g=mass,  # type: ignore[arg-type]
                     place=form.get("place", ""), transaction_date=on,  # type: ignore[arg-type]
                     remarks=form.get("remarks", ""))


def _sale_errors(errors: dict[str, Any]) -> dict[str, Any]:
    """Name the domain's seller/buyer errors by the form's fields: the seller is the trader's own dealer."""
    renamed = {"mass_g": "mass", "seller_id": "seller", "buyer_id": "counterparty"}
    return {renamed.get(key, key): message for key, message in errors.items()}


@bp.post("/register/transactions")
@requires(Action.RECORD_TRANSACTION)
def record_transaction():  # type: ignore[no-untyped-def]
    """Enter a sale of the trader's dealer in the register; it waits for the buyer's confirmation."""
    user, db = acting_user(), get_session()
    try:
        entry = record_sale(db, user, _sale_input(user, request.form))
    except ValidationFailed as exc:
        db.rollback()
        return _page(sale=request.form, sale_errors=_sale_errors(exc.errors), status=400)
    db.commit()
    flash(_("Entered in the register: %(mass)s on %(date)s. It counts in the books once the buyer confirms it.",
            mass=kg(entry.mass_g), date=day(entry.transaction_date)), "success")
    return redirect(url_for("portal.register"))


def _answer_page(entry: Transaction, errors: dict[str, Any] | None = None, reason: str = "",
                 status: int = 200):  # type: ignore[no-untyped-def]
    """Render the page where the buyer confirms or disputes one sale."""
    db = get_session()
    names = dict(db.execute(select(Dealer.id, Dealer.legal_name).where(
        Dealer.id.in_((entry.seller_id, entry.buyer_id)))).all())
    return render_template("trader/answer_sale.html", t=entry, names=names, errors=errors or {},
                           reason=reason, standing=standings(db, [entry])[entry.id]), status


def _entry_to_answer(transaction_id: int) -> Transaction:
    """Return the entry the acting trader answers (404 when not theirs to see, 403 when not the buyer)."""
    user, db = acting_user(), get_session()
    entry = find_transaction(db, user, transaction_id)
    standing = standings(db, [entry])[entry.id]
    if not awaits_answer_from(user, entry, standing, corrected(db, [entry])):
        if user.dealer_id != entry.buyer_id:
            abort(403, description=_("Only a trader of the buying dealer confirms or disputes a sale."))
        abort(409, description=_("This entry no longer waits for your answer."))
    return entry


@bp.get("/register/transactions/<int:transaction_id>/answer")
@requires(Action.RECORD_TRANSACTION)
def answer_sale(transaction_id: int):  # type: ignore[no-untyped-def]
    """Show a sale entered by the seller, for the buyer to confirm or dispute."""
    return _answer_page(_entry_to_answer(transaction_id))


@bp.post("/register/transactions/<int:transaction_id>/confirm")
@requires(Action.RECORD_TRANSACTION)
def confirm_transaction(transaction_id: int):  # type: ignore[no-untyped-def]
    """Confirm a purchase: the sale counts in both dealers' books from now on."""
    user, db = acting_user(), get_session()
    entry = find_transaction(db, user, transaction_id)
    confirm_sale(db, user, entry)
    db.commit()
    flash(_("Confirmed: %(mass)s bought on %(date)s now counts in both books.", mass=kg(entry.mass_g),
            date=day(entry.transaction_date)), "success")
    return redirect(url_for("portal.register"))


@bp.post("/register/transactions/<int:transaction_id>/dispute")
@requires(Action.RECORD_TRANSACTION)
def dispute_transaction(transaction_id: int):  # type: ignore[no-untyped-def]
    """Dispute a sale with a reason: it stays out of both books, and the seller and auditors see why."""
    user, db = acting_user(), get_session()
    entry = find_transaction(db, user, transaction_id)
    reason = request.form.get("reason", "")
    try:
        dispute_sale(db, user, entry, reason)
    except ValidationFailed as exc:
        db.rollback()
        return _answer_page(entry, exc.errors, reason, status=400)
    db.commit()
    flash(_("Disputed: the sale stays out of the books; the seller sees your reason."), "success")
    return redirect(url_for("portal.register"))


@bp.post("/register/stock-entries", endpoint="record_stock_entry")
@requires(Action.RECORD_TRANSACTION)
def record_stock_entry_view():  # type: ignore[no-untyped-def]
    """Enter production or declared use of the trader's dealer in the stock book."""
    user, db = acting_user(), get_session()
    form, errors = request.form, {}
    mass = read_kg_field(form.get("mass", ""), "mass", errors)
    on = parse_date(form.get("entry_date", ""), "entry_date", errors)
    try:
        if errors:
            raise ValidationFailed(errors)
        record_stock_entry(db, user, StockEntryInput(kind=form.get("kind", ""), mass_g=mass,  # type: ignore[arg-type]
                                                     entry_date=on, place=form.get("place", ""),  # type: ignore[arg-type]
                                                     remarks=form.get("remarks", "")))
    except ValidationFailed as exc:
        db.rollback()
        named = {("mass" if key == "mass_g" else key): message for key, message in exc.errors.items()}
        return _page(entry=form, entry_errors=named, status=400)
    db.commit()
    flash(_("Entered in the stock book."), "success")
    return redirect(url_for("portal.register"))
