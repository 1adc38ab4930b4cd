"""Kilograms as people type them, in their language: the one reader every form uses.

A form shows and takes masses in kilograms; the records keep whole grams. How the text
is read depends on the user's language, and where a reading could be wrong it is refused
with a message that says what to type instead:

- **English**: a point marks decimals ("34.5"). A comma is refused: "1,000" means a
  thousand to some and one to others (the licensing authority once issued a 1 kg quota
  that way), so the message asks for "1000" or "1.0".
- **Russian**: a comma marks decimals ("34,5"), and so does a point ("34.5", "34.500" as
  a scale shows it): Russian groups thousands with spaces, never with points
  (GOST 8.417), so a point cannot mean a thousand. A number with both is refused.
- **Both**: thousands may be grouped with spaces (also no-break and narrow no-break spaces,
  as Russian word processors insert), three digits to a group ("1 000", "12 345,5").
- At most three decimals (the gram), no sign, exponent, NaN or infinity, only the digits
  0-9, and at most the plausibility ceiling (``plausibility.current_limits``).

``kg_value`` writes grams back the way ``read_kg`` reads them, without grouping, so a
form shown again reads the same mass.
"""
from __future__ import annotations

import re
from decimal import Decimal

from tracker.domain.plausibility import current_limits, mass_problem
from tracker.domain.text import Text, text

GRAMS_PER_KG = 1000
#: Longer input is no mass anyone types (and is not worth a regular expression's time).
MAX_TYPED = 40
#: The languages that write a decimal comma (34,5 кг) and group thousands with spaces.
DECIMAL_COMMA = frozenset({"ru", "ky"})
_SPACES = re.compile(r"[ \u00a0\u2009\u202f]")
_GROUPED = re.compile(r"^[0-9]{1,3}(?:[ \u00a0\u2009\u202f][0-9]{3})+$")
_NUMBER = re.compile(r"^([0-9]+)(?:\.([0-9]+))?$")


class UnreadableMass(ValueError):
    """A typed mass that cannot be read safely; ``message`` says what to type instead."""

    def __init__(self, message: Text) -> None:
        super().__init__(message)
        self.message = message


def _decimal_mark(value: str, language: str) -> str:
    """Return ``value`` with a point as its only decimal mark, or raise when that is not clear."""
    if "," not in value:
        return value
    if language not in DECIMAL_COMMA:
        raise UnreadableMass(_comma_in_english(value))
    if "." in value or value.count(",") > 1:
        raise UnreadableMass(text(
            "\u201c{typed}\u201d mixes separators: use one comma for decimals and spaces for thousands, "
            "e.g. 1 000,5", typed=value))
    return value.replace(",", ".")


def _comma_in_english(value: str) -> Text:
    """Say why a comma is refused in English, with the readings the user may have meant."""
    digits = _SPACES.sub("", value)
    whole, _comma, rest = digits.partition(",")
    if "," in rest or "." in digits:  # "12,345,678", "1,000.5": plainly grouping, but say it once
        return text("\u201c{typed}\u201d: type the kilograms without commas, e.g. {ungrouped}",
                    typed=value, ungrouped=digits.replace(",", ""))
    decimal = whole + "." + (rest.rstrip("0") or "0")
    return text("\u201c{typed}\u201d is ambiguous: a comma may group thousands or mark decimals. "
                "Type {grouped} or {decimal} (a point for decimals, no comma)",
                typed=value, grouped=whole + rest, decimal=decimal)


def _ungrouped(whole: str) -> str:
    """Return the whole kilograms without their group spaces, or raise when the groups are wrong."""
    if _SPACES.search(whole) is None:
        return whole
    if _GROUPED.match(whole) is None:
        raise UnreadableMass(text(
            "\u201c{typed}\u201d: group thousands by three digits, e.g. 1 000, or type no spaces", typed=whole))
    return _SPACES.sub("", whole)


def _digits(value: str) -> tuple[str, str]:
    """Split a mass into whole kilograms and decimals (the grams), or raise with what is wrong."""
    if value.startswith("-"):
        raise UnreadableMass(text("a mass cannot be negative"))
    number = _NUMBER.match(value)
    if number is None:
        raise UnreadableMass(text("type the kilograms in digits, e.g. 34.5"))
    decimals = number[2] or ""
    if len(decimals.rstrip("0")) > 3:
        raise UnreadableMass(text("at most three decimals: a mass is kept to the gram"))
    return number[1], decimals


def read_kg(raw: str, language: str, allow_zero: bool = False) -> int:
    """Read a mass typed in kilograms in ``language`` ("en", "ru", "ky") and return it in whole grams.

    Raises :class:`UnreadableMass` saying what to type instead (see the module docstring).
    """
    value = raw.strip() if isinstance(raw, str) else ""
    if not value:
        raise UnreadableMass(text("give the mass in kilograms, e.g. 34.5"))
    if len(value) > MAX_TYPED:
        raise UnreadableMass(text("type the kilograms in digits, e.g. 34.5"))
    value = _decimal_mark(value, language)
    whole, _point, decimals = value.partition(".")
    whole, decimals = _digits(f"{_ungrouped(whole)}{_point}{decimals}")
    grams = int(Decimal(f"{whole}.{decimals or '0'}") * GRAMS_PER_KG)
    problem = mass_problem(grams, minimum=0 if allow_zero else 1)
    if problem is not None:
        raise UnreadableMass(text("the mass must be more than zero") if grams == 0 else _in_kg(grams, problem, language))
    return grams


def _in_kg(grams: int, problem: Text, language: str) -> Text:
    """Say a mass past the ceiling in kilograms, written as the user writes them."""
    ceiling = current_limits().ceiling_g
    return text("{kg} kg is more than the ceiling of {ceiling} kg", kg=kg_value(grams, language),
                ceiling=kg_value(ceiling, language)) if grams > ceiling else problem


def kg_value(grams: int | None, language: str) -> str:
    """Write grams as the kilograms a form field holds: "34.5" ("34,5" in Russian and Kyrgyz), no grouping."""
    if grams is None:
        return ""
    whole, rest = divmod(grams, GRAMS_PER_KG)
    value = f"{whole}.{rest:03d}".rstrip("0") if rest else str(whole)
    return value.replace(".", ",") if language in DECIMAL_COMMA else value
