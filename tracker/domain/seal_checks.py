"""Checking sealed evidence: each subject's newest seal must match its rows as they are now.

Run after the evidence-seals chain itself verifies (chain_verify), which proves the
seals are the ones the application wrote.
"""
from __future__ import annotations

from typing import Any, Collection, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker.domain.chain_verify import ChainReport
from tracker.domain.declarations import EDITABLE_STATUSES
from tracker.domain.seals import COVERAGES, DECLARATION_ITEMS, POSITIONS, Coverage, digest_rows, parse_ranges
from tracker.domain.text import text
from tracker.models import Declaration, DeclarationItem, EvidenceSeal, PositionArchive

CHUNK = 1000


def newest_seals(session: Session, coverage: Coverage) -> dict[str, EvidenceSeal]:
    """Return the newest seal of every subject of ``coverage``."""
    rows = session.scalars(select(EvidenceSeal).where(EvidenceSeal.kind == coverage.kind).order_by(EvidenceSeal.id))
    return {row.subject: row for row in rows}


def _sealed_rows(session: Session, coverage: Coverage, sealed: EvidenceSeal) -> Sequence[Any]:
    """Return the rows ``sealed`` names, as they are now (missing ones simply absent)."""
    if coverage is DECLARATION_ITEMS:
        declaration_id = int(sealed.subject.split(":", 1)[1])
        return session.scalars(select(DeclarationItem).where(DeclarationItem.declaration_id == declaration_id)).all()
    keys, rows = parse_ranges(sealed.row_keys), []
    key = getattr(coverage.model, coverage.key)
    columns = [getattr(coverage.model, name) for name in coverage.fields]  # plain rows: no ORM objects to build
    for start in range(0, len(keys), CHUNK):
        rows.extend(session.execute(select(*columns).where(key.in_(keys[start:start + CHUNK]))))
    return rows


def _editable_declarations(session: Session) -> set[str]:
    """Return the subjects of declarations back in editing (rejected, or a draft again)."""
    ids = session.scalars(select(Declaration.id).where(Declaration.status.in_(EDITABLE_STATUSES)))
    return {f"declaration:{declaration_id}" for declaration_id in ids}


def _archived_subjects(session: Session, seals: Collection[str]) -> set[str]:
    """Return the position seal subjects ("12/2026-11-03T10") of months archived to files and not restored."""
    months = {f"{day:%Y-%m}" for day in session.scalars(
        select(PositionArchive.month).where(PositionArchive.restored_at.is_(None)))}
    return {subject for subject in seals if subject.split("/", 1)[-1][:7] in months} if months else set()


def verify_coverage(session: Session, coverage: Coverage, subjects: Collection[str] | None = None) -> ChainReport:
    """Recompute every newest seal of ``coverage`` (or of ``subjects``); report the first subject that changed."""
    seals = newest_seals(session, coverage)
    skipped = _editable_declarations(session) if coverage is DECLARATION_ITEMS else set()
    if coverage is POSITIONS:  # an archived month's fixes are checked against its file, and again once restored
        skipped = _archived_subjects(session, seals)
    covered = 0
    for subject, sealed in seals.items():
        if subject in skipped or (subjects is not None and subject not in subjects):
            continue
        rows = _sealed_rows(session, coverage, sealed)
        if len(rows) != sealed.row_count or digest_rows(coverage, rows) != sealed.digest:
            return ChainReport(coverage.kind, covered, sealed.id, text(
                "{subject} changed after it was sealed: rows edited, deleted or added", subject=subject))
        covered += sealed.row_count
    if subjects is not None:
        return ChainReport(coverage.kind, covered)
    total = session.scalar(select(func.count()).select_from(coverage.model)) or 0
    return ChainReport(coverage.kind, covered, pending=max(total - covered, 0))


def verify_seals(session: Session) -> list[ChainReport]:
    """Check every kind of sealed evidence."""
    return [verify_coverage(session, coverage) for coverage in COVERAGES]
