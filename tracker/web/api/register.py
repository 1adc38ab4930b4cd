"""The transaction register: sales, reversals and corrections, the buyers' answers; production and use records.

The seller enters a sale (``POST /transactions``) and corrects it; the buyer confirms or
disputes it (``POST /transactions/{id}/confirm`` and ``/dispute``). Each entry says where
it stands (``status``): until confirmed it counts in neither dealer's books.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from flask import jsonify, request
from flask_login import login_required
from sqlalchemy import or_, select

from tracker.domain.access import Action, stock_entry_filter, transaction_filter
from tracker.domain.errors import ValidationFailed
from tracker.domain.register import (
    SaleInput,
    StockEntryInput,
    correct_transaction,
    find_transaction,
    record_sale,
    record_stock_entry,
)
from tracker.domain.sale_answers import confirm_sale, dispute_sale
from tracker.domain.sale_state import Standing, in_state, standings
from tracker.models import SaleState, StockEntry, StockEntryKind, Transaction, TransactionKind
from tracker.web.api import bp
from tracker.web.api.openapi import (
    GRAMS,
    PAGING,
    PATHS,
    ROW_ID,
    SCHEMAS,
    error_responses,
    json_response,
    op,
    page_of,
    ref,
)
from tracker.web.api.requests import enum_arg, id_arg, json_body, paginate
from tracker.web.api.serialize import iso
from tracker.web.auth import acting_user, requires
from tracker.web.database import get_session


def _date(value: Any) -> Any:
    """Return ``value`` as a date when it is one in ISO form; otherwise as given, for the domain to refuse."""
    try:
        return date.fromisoformat(value) if isinstance(value, str) else value
    except ValueError:
        return value


def transaction_json(entry: Transaction, standing: Standing | None = None) -> dict[str, Any]:
    """Return a register entry with where it stands with its buyer."""
    standing = standing or standings(get_session(), [entry])[entry.id]
    answer = standing.answer
    return {
        "id": entry.id, "kind": TransactionKind(entry.kind).value, "seller_id": entry.seller_id,
        "buyer_id": entry.buyer_id, "mass_g": entry.mass_g, "place": entry.place,
        "transaction_date": entry.transaction_date.isoformat(), "declaration_id": entry.declaration_id,
        "corrects_id": entry.corrects_id, "remarks": entry.remarks, "recorded_at": iso(entry.recorded_at),
        "row_hash": entry.row_hash, "status": standing.state.value if standing.state else None,
        "answered_at": iso(answer.recorded_at) if answer else None,
        "answered_by_id": answer.answered_by_id if answer else None,
        "dispute_reason": answer.reason if answer and standing.state == SaleState.DISPUTED else None,
    }


def stock_entry_json(entry: StockEntry) -> dict[str, Any]:
    """Return a production or use record."""
    return {
        "id": entry.id, "kind": StockEntryKind(entry.kind).value, "dealer_id": entry.dealer_id,
        "mass_g": entry.mass_g, "entry_date": entry.entry_date.isoformat(), "place": entry.place,
        "remarks": entry.remarks, "recorded_at": iso(entry.recorded_at), "row_hash": entry.row_hash,
    }


@bp.post("/transactions")
@requires(Action.RECORD_TRANSACTION)
def post_transaction():  # type: ignore[no-untyped-def]
    """Enter a sale of the trader's dealer (the seller); it waits for the buyer's confirmation."""
    data = json_body()
    sale = SaleInput(
        # Values go to the domain as sent: it names every field that is wrong, in one answer.
        seller_id=data.get("seller_id"), buyer_id=data.get("buyer_id"),  # type: ignore[arg-type]
        mass_g=data.get("mass_g"), place=data.get("place"),  # type: ignore[arg-type]
        transaction_date=_date(data.get("transaction_date")),
        declaration_id=data.get("declaration_id"), remarks=str(data.get("remarks", "")),
    )
    db = get_session()
    entry = record_sale(db, acting_user(), sale)
    db.commit()
    return jsonify(transaction_json(entry)), 201


@bp.post("/transactions/<int:transaction_id>/correct")
@requires(Action.RECORD_TRANSACTION)
def correct(transaction_id: int):  # type: ignore[no-untyped-def]
    """Reverse an entry and enter its correction (the new full figures), both referring to it."""
    data = json_body()
    reason = data.pop("reason", "")
    if "transaction_date" in data:
        data["transaction_date"] = _date(data["transaction_date"])
    db = get_session()
    reversal, correction = correct_transaction(db, acting_user(), transaction_id, str(reason or ""), **data)
    db.commit()
    return jsonify({"reversal": transaction_json(reversal), "correction": transaction_json(correction)}), 201


@bp.post("/transactions/<int:transaction_id>/confirm")
@requires(Action.RECORD_TRANSACTION)
def confirm(transaction_id: int):  # type: ignore[no-untyped-def]
    """Confirm a sale or correction as its buyer: from now on it counts in both books."""
    db = get_session()
    entry = find_transaction(db, acting_user(), transaction_id)
    confirm_sale(db, acting_user(), entry)
    db.commit()
    return jsonify(transaction_json(entry))


@bp.post("/transactions/<int:transaction_id>/dispute")
@requires(Action.RECORD_TRANSACTION)
def dispute(transaction_id: int):  # type: ignore[no-untyped-def]
    """Dispute a sale or correction as its buyer, with a reason; it stays out of both books."""
    reason = json_body().get("reason", "")
    if not isinstance(reason, str):
        raise ValidationFailed({"reason": "text"})
    db = get_session()
    entry = find_transaction(db, acting_user(), transaction_id)
    dispute_sale(db, acting_user(), entry, reason)
    db.commit()
    return jsonify(transaction_json(entry))


@bp.get("/transactions")
@login_required
def list_transactions():  # type: ignore[no-untyped-def]
    """List register entries the user may see, newest first; ``dealer_id`` as seller or buyer."""
    query = select(Transaction).where(transaction_filter(acting_user()))
    if (dealer := id_arg("dealer_id")) is not None:
        query = query.where(or_(Transaction.seller_id == dealer, Transaction.buyer_id == dealer))
    if (state := enum_arg("status", SaleState)) is not None:
        query = query.where(in_state(state))
    return jsonify(paginate(query.order_by(Transaction.id.desc()), transaction_json))


@bp.get("/transactions/<int:transaction_id>")
@login_required
def get_transaction(transaction_id: int):  # type: ignore[no-untyped-def]
    """Return one register entry (404 when outside the user's view)."""
    return jsonify(transaction_json(find_transaction(get_session(), acting_user(), transaction_id)))


@bp.post("/stock-entries")
@requires(Action.RECORD_TRANSACTION)
def post_stock_entry():  # type: ignore[no-untyped-def]
    """Record production or declared use for the trader's dealer."""
    data = json_body()
    entry = StockEntryInput(kind=str(data.get("kind", "")), mass_g=data.get("mass_g"),  # type: ignore[arg-type]
                            entry_date=_date(data.get("entry_date")), place=data.get("place"),  # type: ignore[arg-type]
                            remarks=str(data.get("remarks", "")))
    db = get_session()
    row = record_stock_entry(db, acting_user(), entry)
    db.commit()
    return jsonify(stock_entry_json(row)), 201


@bp.get("/stock-entries")
@login_required
def list_stock_entries():  # type: ignore[no-untyped-def]
    """List production and use records the user may see, newest first."""
    query = select(StockEntry).where(stock_entry_filter(acting_user()))
    if (dealer := id_arg("dealer_id")) is not None:
        query = query.where(StockEntry.dealer_id == dealer)
    return jsonify(paginate(query.order_by(StockEntry.id.desc()), stock_entry_json))


DATE = {"type": "string", "format": "date"}
SCHEMAS.update({
    "Transaction": {"type": "object", "properties": {
        "id": {"type": "integer"}, "kind": {"enum": [k.value for k in TransactionKind]},
        "seller_id": {"type": "integer"}, "buyer_id": {"type": "integer"}, "mass_g": GRAMS,
        "place": {"type": "string"}, "transaction_date": DATE, "declaration_id": {"type": ["integer", "null"]},
        "corrects_id": {"type": ["integer", "null"], "description": "the entry a reversal or correction refers to"},
        "remarks": {"type": "string"}, "recorded_at": {"type": "string", "format": "date-time"},
        "row_hash": {"type": "string"},
        "status": {"enum": [*(s.value for s in SaleState), None], "description":
                   "the buyer's answer: a sale or correction counts in the books only once confirmed; "
                   "null for a reversal (it counts when the entry it reverses does)"},
        "answered_at": {"type": ["string", "null"], "format": "date-time"},
        "answered_by_id": {"type": ["integer", "null"]},
        "dispute_reason": {"type": ["string", "null"]}}},
    "Dispute": {"type": "object", "required": ["reason"], "properties": {
        "reason": {"type": "string", "maxLength": 2000, "description": "what is wrong with the sale"}}},
    "NewSale": {"type": "object", "required": ["seller_id", "buyer_id", "mass_g", "place", "transaction_date"],
                "properties": {
        "seller_id": {"type": "integer"}, "buyer_id": {"type": "integer"}, "mass_g": GRAMS,
        "place": {"type": "string", "maxLength": 200}, "transaction_date": DATE,
        "declaration_id": {"type": "integer"}, "remarks": {"type": "string"}}},
    "Correction": {"type": "object", "required": ["reason"], "description":
                   "what changes; the correction carries the new full figures, the rest is kept", "properties": {
        "reason": {"type": "string"}, "buyer_id": {"type": "integer"},
        "mass_g": GRAMS, "place": {"type": "string"}, "transaction_date": DATE,
        "declaration_id": {"type": ["integer", "null"]}}},
    "StockEntry": {"type": "object", "properties": {
        "id": {"type": "integer"}, "kind": {"enum": [k.value for k in StockEntryKind]},
        "dealer_id": {"type": "integer"}, "mass_g": GRAMS, "entry_date": DATE, "place": {"type": "string"},
        "remarks": {"type": "string"}, "recorded_at": {"type": "string", "format": "date-time"},
        "row_hash": {"type": "string"}}},
    "NewStockEntry": {"type": "object", "required": ["kind", "mass_g", "entry_date", "place"], "properties": {
        "kind": {"enum": [k.value for k in StockEntryKind]}, "mass_g": GRAMS, "entry_date": DATE,
        "place": {"type": "string", "maxLength": 200}, "remarks": {"type": "string"}}},
})

_ID = [{"name": "transaction_id", "in": "path", "required": True, "schema": ROW_ID}]
_DEALER = [{"name": "dealer_id", "in": "query", "schema": ROW_ID}]
_STATUS = [{"name": "status", "in": "query", "schema": {"enum": [s.value for s in SaleState]}}]


def _body_of(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": ref(schema)}}}


PATHS["/transactions"] = {
    "post": op("Enter a sale (a trader of the seller); it counts once the buyer confirms it", {
        "201": json_response(ref("Transaction"), "Entered, pending"), **error_responses(401, 403, 415, 422)},
        requestBody=_body_of("NewSale")),
    "get": op("Register entries visible to the user", {
        "200": json_response(page_of("Transaction"), "A page"), **error_responses(401, 422)},
        parameters=PAGING + _DEALER + _STATUS),
}
PATHS["/transactions/{transaction_id}"] = {"get": op(
    "One register entry", {"200": json_response(ref("Transaction"), "Entry"), **error_responses(401, 404)},
    parameters=_ID)}
PATHS["/transactions/{transaction_id}/correct"] = {"post": op(
    "Correct an entry: a reversal plus a correction, both referring to it", {
        "201": json_response({"type": "object", "properties": {
            "reversal": ref("Transaction"), "correction": ref("Transaction")}}, "Reversed and corrected"),
        **error_responses(401, 403, 404, 409, 415, 422)}, parameters=_ID, requestBody=_body_of("Correction"))}
PATHS["/transactions/{transaction_id}/confirm"] = {"post": op(
    "Confirm a sale or correction (a trader of the buyer): it counts in both books from now on", {
        "200": json_response(ref("Transaction"), "Confirmed"), **error_responses(401, 403, 404, 409, 415)},
    parameters=_ID)}
PATHS["/transactions/{transaction_id}/dispute"] = {"post": op(
    "Dispute a sale or correction (a trader of the buyer), with a reason; it stays out of both books", {
        "200": json_response(ref("Transaction"), "Disputed"), **error_responses(401, 403, 404, 409, 415, 422)},
    parameters=_ID, requestBody=_body_of("Dispute"))}
PATHS["/stock-entries"] = {
    "post": op("Record production or declared use (trader, for their dealer)", {
        "201": json_response(ref("StockEntry"), "Recorded"), **error_responses(401, 403, 415, 422)},
        requestBody=_body_of("NewStockEntry")),
    "get": op("Production and use records visible to the user", {
        "200": json_response(page_of("StockEntry"), "A page"), **error_responses(401)}, parameters=PAGING + _DEALER),
}
