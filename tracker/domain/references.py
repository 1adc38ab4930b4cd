"""Declaration reference numbers with a check character.

Shaped like an EU movement reference number: year (2 digits), country (KG), the
mercury procedure letters HG, a 10-digit serial, and one check character computed
with the ISO 6346 algorithm, as the MRN does. A mistyped reference is caught at once.
"""
from __future__ import annotations

import re
import string

from tracker.domain.text import text

_ALPHABET_VALUES: dict[str, int] = {}
_REFERENCE_RE = re.compile(r"^\d{2}KGHG\d{10}[0-9]$")


def _build_values() -> None:
    value = 10
    for letter in string.ascii_uppercase:
        if value % 11 == 0:  # ISO 6346 skips multiples of 11
            value += 1
        _ALPHABET_VALUES[letter] = value
        value += 1
    for digit in string.digits:
        _ALPHABET_VALUES[digit] = int(digit)


_build_values()


class InvalidReference(ValueError):
    """A reference number is malformed or its check character is wrong."""


def check_character(body: str) -> str:
    """Return the ISO 6346 check character for ``body`` (digits and capital letters)."""
    try:
        total = sum(_ALPHABET_VALUES[ch] * 2**i for i, ch in enumerate(body))
    except KeyError as exc:
        raise InvalidReference(text("character {character!r} not allowed", character=exc.args[0])) from None
    return str(total % 11 % 10)


def make_reference(year: int, serial: int) -> str:
    """Return the reference for the ``serial``-th declaration approved in ``year``."""
    if not 0 < serial < 10**10:
        raise InvalidReference(text("serial out of range: {serial}", serial=serial))
    body = f"{year % 100:02d}KGHG{serial:010d}"
    return body + check_character(body)


def validate_reference(reference: str) -> str:
    """Return ``reference`` (upper-cased) when well formed, else raise saying why."""
    reference = reference.strip().upper()
    if not _REFERENCE_RE.match(reference):
        raise InvalidReference(text("a reference looks like 26KGHG00000000017, got {reference!r}",
                                    reference=reference))
    if check_character(reference[:-1]) != reference[-1]:
        raise InvalidReference(text("reference {reference} has a wrong check character", reference=reference))
    return reference
