"""The transaction register: sales, purchases, reversals and corrections; production and use records."""
from __future__ import annotations

from datetime import date
from typing import Any

from flask import jsonify, request
from flask_login import login_required
from sqlalchemy import or_, select

from tracker.domain.access import Action, stock_entry_filter, transaction_filter
from tracker.domain.register import (
    SaleInput,
    StockEntryInput,
    correct_transaction,
    find_transaction,
    record_sale,
    record_stock_entry,
)
from tracker.models import StockEntry, StockEntryKind, Transaction, TransactionKind
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
from tracker.web.api.requests import id_arg, json_body, paginate
from tracker.web.api.serialize import iso
from tracker.web.auth import acting_user, requires
from tracker.web.database import get_session


def _date(value: Any) -> Any:
    """Return ``value`` as a date when it is one in ISO form; otherwise as given, for the domain to refuse."""
    try:
        return date.fromisoformat(value) if isinstance(value, str) else value
    except ValueError:
        return value


def transaction_json(entry: Transaction) -> dict[str, Any]:
    """Return a register entry."""
    return {
        "id": entry.id, "kind": TransactionKind(entry.kind).value, "seller_id": entry.seller_id,
        "buyer_id": entry.buyer_id, "mass_g": entry.mass_g, "place": entry.place,
        "transaction_date": entry.transaction_date.isoformat(), "declaration_id": entry.declaration_id,
        "corrects_id": entry.corrects_id, "remarks": entry.remarks, "recorded_at": iso(entry.recorded_at),
        "row_hash": entry.row_hash,
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
    """Enter a sale in the register (the trader's dealer is seller or buyer)."""
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


@bp.get("/transactions")
@login_required
def list_transactions():  # type: ignore[no-untyped-def]
    """List register entries the user may see, newest first; ``dealer_id`` as seller or buyer."""
    query = select(Transaction).where(transaction_filter(acting_user()))
    if (dealer := id_arg("dealer_id")) is not None:
        query = query.where(or_(Transaction.seller_id == dealer, Transaction.buyer_id == dealer))
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
        "row_hash": {"type": "string"}}},
    "NewSale": {"type": "object", "required": ["seller_id", "buyer_id", "mass_g", "place", "transaction_date"],
                "properties": {
        "seller_id": {"type": "integer"}, "buyer_id": {"type": "integer"}, "mass_g": GRAMS,
        "place": {"type": "string", "maxLength": 200}, "transaction_date": DATE,
        "declaration_id": {"type": "integer"}, "remarks": {"type": "string"}}},
    "Correction": {"type": "object", "required": ["reason"], "description":
                   "what changes; the correction carries the new full figures, the rest is kept", "properties": {
        "reason": {"type": "string"}, "seller_id": {"type": "integer"}, "buyer_id": {"type": "integer"},
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


def _body_of(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": ref(schema)}}}


PATHS["/transactions"] = {
    "post": op("Enter a sale (trader of the seller or buyer)", {
        "201": json_response(ref("Transaction"), "Entered"), **error_responses(401, 403, 415, 422)},
        requestBody=_body_of("NewSale")),
    "get": op("Register entries visible to the user", {
        "200": json_response(page_of("Transaction"), "A page"), **error_responses(401)}, parameters=PAGING + _DEALER),
}
PATHS["/transactions/{transaction_id}"] = {"get": op(
    "One register entry", {"200": json_response(ref("Transaction"), "Entry"), **error_responses(401, 404)},
    parameters=_ID)}
PATHS["/transactions/{transaction_id}/correct"] = {"post": op(
    "Correct an entry: a reversal plus a correction, both referring to it", {
        "201": json_response({"type": "object", "properties": {
            "reversal": ref("Transaction"), "correction": ref("Transaction")}}, "Reversed and corrected"),
        **error_responses(401, 403, 404, 409, 415, 422)}, parameters=_ID, requestBody=_body_of("Correction"))}
PATHS["/stock-entries"] = {
    "post": op("Record production or declared use (trader, for their dealer)", {
        "201": json_response(ref("StockEntry"), "Recorded"), **error_responses(401, 403, 415, 422)},
        requestBody=_body_of("NewStockEntry")),
    "get": op("Production and use records visible to the user", {
        "200": json_response(page_of("StockEntry"), "A page"), **error_responses(401)}, parameters=PAGING + _DEALER),
}
