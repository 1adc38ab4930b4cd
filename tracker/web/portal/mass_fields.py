"""Mass fields of every portal form (trader, licensing authority, officer): kilograms in the user's language.

The reading itself is the domain's (``tracker.domain.kilograms``); this only passes the
request's language and puts a refusal beside its field, as the other form readers do.
"""
from __future__ import annotations

from typing import Any

from tracker.domain.kilograms import UnreadableMass, kg_value as _kg_value, read_kg
from tracker.web.i18n import current_language


def read_kg_field(raw: str, field: str, errors: dict[str, Any], allow_zero: bool = False) -> int | None:
    """Return the kilograms typed in ``field`` as grams, or note what to type instead and return None."""
    try:
        return read_kg(raw, current_language(), allow_zero=allow_zero)
    except UnreadableMass as exc:
        errors[field] = exc.message
        return None


def kg_value(grams: int | None) -> str:
    """Show grams as the kilograms a mass field holds, as ``read_kg_field`` reads them back."""
    return _kg_value(grams, current_language())
