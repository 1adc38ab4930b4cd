"""Walking the evidence chains: links, row hashes, the signed head and witnessed heads.

A chain is intact when every row links to the one before it and hashes to what it
claims, its newest signed head verifies with the public key and matches the row at its
length, no row lies beyond that head, and every head an auditor witnessed is still a
prefix of it (the row at the witnessed length has the witnessed hash, and every later
row chains from it: the transparency-log consistency rule for a hash chain).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.domain.chain import CHAINS, ChainedModel, ChainedRow, chain_name, chain_rows, row_hash
from tracker.domain.signed_heads import latest_signed_head, signature_holds
from tracker.domain.signing import HeadStatement, Verifier, current_signer
from tracker.domain.text import text
from tracker.models import ChainSignature


@dataclass(frozen=True)
class ChainReport:
    """The result of walking one chain (or one kind of sealed evidence): its length, the first problem."""

    chain: str
    count: int
    broken_row_id: int | None = None
    reason: str | None = None
    #: Sealed evidence only: rows stored but not sealed yet (the hour is not over, or the next run seals them).
    pending: int = 0

    @property
    def ok(self) -> bool:
        """Tell whether the chain is intact."""
        return self.reason is None


@dataclass
class _Walk:
    """What walking a chain found: its length, the rows at the lengths asked for, the first broken link."""

    count: int = 0
    at: dict[int, ChainedRow] | None = None
    broken: ChainReport | None = None


def _why_link_breaks(session: Session, model: ChainedModel, row: ChainedRow) -> str:
    """Explain a broken link by finding the row the broken row claims to follow."""
    if row.prev_hash is None:
        return text("it claims to start the chain, but rows come before it (a forged or moved row)")
    followed = session.scalar(select(model.id).where(model.row_hash == row.prev_hash))
    if followed is None:
        return text("the row it follows is missing (deleted), or it was forged")
    if followed > row.id:
        return text("out of order: it follows row {followed}, which comes after it (rows swapped)",
                    followed=followed)
    return text("it follows row {followed}, not the row just before it (a row was inserted before it)",
                followed=followed)


def _walk(session: Session, model: ChainedModel, rows: Iterable[ChainedRow], keep: set[int]) -> _Walk:
    """Check every link and row hash; keep the rows at the (1-based) positions in ``keep``."""
    walk, prev = _Walk(at={}), None
    name = chain_name(model)
    for row in rows:
        walk.count += 1
        if row.prev_hash != prev:
            walk.broken = ChainReport(name, walk.count, row.id, _why_link_breaks(session, model, row))
            return walk
        if row.row_hash != row_hash(prev, row):
            walk.broken = ChainReport(name, walk.count, row.id,
                                      text("row hash does not match the row's contents (edited)"))
            return walk
        if walk.count in keep or walk.count == 1:
            walk.at[walk.count] = row  # type: ignore[index]
        prev = row.row_hash
    return walk


def _against_signed_head(name: str, walk: _Walk, signed: ChainSignature | None, verifier: Verifier,
                         first_after: ChainedRow | None) -> ChainReport | None:
    """Compare the walked chain with its newest signed head."""
    at = walk.at or {}
    if signed is None:
        if walk.count == 0:
            return None
        return ChainReport(name, walk.count, at[1].id, text("no signed head covers these rows: they were "
                                                            "written outside the application (forged)"))
    if not signature_holds(signed, verifier):
        return ChainReport(name, walk.count, None, text("the signature of the chain head does not verify with "
                                                        "key {key}: forged, or signed with another key",
                                                        key=verifier.key_id))
    if first_after is not None:
        return ChainReport(name, walk.count, first_after.id, text(
            "the chain head records {length} rows: this row was appended outside the application (forged)",
            length=signed.length))
    if walk.count < signed.length:
        return ChainReport(name, walk.count, None, text("the chain head records {length} rows but {count} "
                                                        "remain: rows were deleted from the end",
                                                        length=signed.length, count=walk.count))
    row = at.get(signed.length)
    if signed.length and (row is None or row.row_hash != signed.tip_hash):
        return ChainReport(name, walk.count, row.id if row else None, text(
            "the rows differ from the signed head at row {length}: the chain was rewritten and its hashes "
            "recomputed", length=signed.length))
    return None


def _against_witness(name: str, walk: _Walk, witnessed: HeadStatement) -> ChainReport | None:
    """Check that the chain still extends a head an auditor witnessed."""
    if walk.count < witnessed.length:
        return ChainReport(name, walk.count, None, text(
            "an auditor witnessed {length} rows but {count} remain: the chain was cut or moved back",
            length=witnessed.length, count=walk.count))
    row = (walk.at or {}).get(witnessed.length)
    if witnessed.length and (row is None or row.row_hash != witnessed.tip_hash):
        return ChainReport(name, walk.count, row.id if row else None, text(
            "row {length} differs from the head an auditor witnessed: the chain was rewritten",
            length=witnessed.length))
    return None


def verify_chain(session: Session, model: ChainedModel, verifier: Verifier | None = None,
                 witnessed: Sequence[HeadStatement] = ()) -> ChainReport:
    """Walk ``model``'s chain and report the first problem, and why; OK with its count when none."""
    name = chain_name(model)
    verifier = verifier or current_signer()
    signed = latest_signed_head(session, name)
    signed_length = signed.length if signed else 0
    mine = [w for w in witnessed if w.chain == name]
    keep = {signed_length, signed_length + 1, *(w.length for w in mine)}
    walk = _walk(session, model, chain_rows(session, model), keep)
    if walk.broken is not None:
        return walk.broken
    first_after = (walk.at or {}).get(signed_length + 1) if signed is not None else None
    problem = _against_signed_head(name, walk, signed, verifier, first_after)
    for statement in mine:
        problem = problem or _against_witness(name, walk, statement)
    return problem or ChainReport(name, walk.count)


def verify_chains(session: Session, verifier: Verifier | None = None,
                  witnessed: Sequence[HeadStatement] = ()) -> list[ChainReport]:
    """Verify every evidence chain."""
    return [verify_chain(session, model, verifier, witnessed) for model in CHAINS.values()]
