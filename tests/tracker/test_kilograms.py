"""The one kilogram reader: what a mass typed in each language means, and what is refused with a hint."""
from __future__ import annotations

import pytest

from tracker.domain.kilograms import UnreadableMass, kg_value, read_kg
from tracker.domain.plausibility import Limits, use_limits

NBSP, NNBSP = "\u00a0", "\u202f"


@pytest.mark.parametrize("language, typed, grams", [
    ("en", "34.5", 34_500),
    ("en", "34.500", 34_500),            # as a scale shows it
    ("en", " 0.001 ", 1),
    ("en", "1000", 1_000_000),
    ("en", "1 000", 1_000_000),          # a space cannot be a decimal mark: a group of thousands
    ("en", "1.000", 1_000),              # a point is the decimal mark in English
    ("en", "34.5000", 34_500),           # trailing zeros are no extra precision
    ("en", "100000", 100_000_000),       # exactly the ceiling
    ("ru", "34,5", 34_500),
    ("ru", "34.5", 34_500),              # Russian never groups with a point: it is a decimal mark
    ("ru", "34.500", 34_500),
    ("ru", "1,000", 1_000),              # in Russian the comma is the decimal mark
    ("ru", "1 000", 1_000_000),
    ("ru", f"1{NBSP}234,5", 1_234_500),  # the no-break space word processors put between groups
    ("ru", f"12{NNBSP}345,678", 12_345_678),
])
def test_a_mass_typed_in_kilograms_is_read_in_grams(language: str, typed: str, grams: int) -> None:
    assert read_kg(typed, language) == grams


@pytest.mark.parametrize("language, typed, hint", [
    ("en", "1,000", "Type 1000 or 1.0"),          # a thousand or one? never guess
    ("en", "34,5", "Type 345 or 34.5"),
    ("en", "33,650", "Type 33650 or 33.65"),
    ("en", "1,000.5", "without commas, e.g. 1000.5"),
    ("en", "12,345,678", "without commas, e.g. 12345678"),
    ("ru", "1.000,5", "mixes separators"),
    ("ru", "1,000,5", "mixes separators"),
    ("en", "1 00", "group thousands by three digits"),
    ("ru", "10 00,5", "group thousands by three digits"),
    ("en", "34.5001", "at most three decimals"),
    ("ru", "0,0005", "at most three decimals"),
    ("en", "-1", "cannot be negative"),
    ("en", "0", "more than zero"),
    ("ru", "0,000", "more than zero"),
    ("en", "", "give the mass in kilograms"),
    ("ru", "   ", "give the mass in kilograms"),
    ("en", "+5", "in digits"),
    ("en", "1e3", "in digits"),
    ("en", "NaN", "in digits"),
    ("en", "inf", "in digits"),
    ("en", "Infinity", "in digits"),
    ("en", "34.5 kg", "in digits"),
    ("en", "\u0663\u0664", "in digits"),          # Arabic-Indic digits are digits to Python, not to us
    ("en", "\uff13\uff14", "in digits"),          # full-width digits
    ("en", "3\x004", "in digits"),
    ("en", "1" * 41, "in digits"),                # longer than anyone types a mass
    ("en", "100000.001", "more than the ceiling of 100000 kg"),
    ("en", "9" * 30, "more than the ceiling"),
    ("ru", "100 000,001", "100000,001 kg is more than the ceiling of 100000 kg"),
])
def test_a_mass_that_cannot_be_read_safely_is_refused_saying_what_to_type(language: str, typed: str,
                                                                          hint: str) -> None:
    with pytest.raises(UnreadableMass) as refused:
        read_kg(typed, language)
    assert hint in refused.value.message


def test_zero_is_a_mass_only_where_an_empty_container_is_a_fact() -> None:
    assert read_kg("0", "en", allow_zero=True) == 0
    assert read_kg("0,000", "ru", allow_zero=True) == 0


def test_the_ceiling_is_the_configured_one() -> None:
    use_limits(Limits(ceiling_g=1_000_000))
    try:
        assert read_kg("1000", "en") == 1_000_000
        with pytest.raises(UnreadableMass, match="more than the ceiling of 1000 kg"):
            read_kg("1000.001", "en")
    finally:
        use_limits(Limits())


@pytest.mark.parametrize("grams, english, russian", [
    (34_500, "34.5", "34,5"), (1, "0.001", "0,001"), (1_000_000, "1000", "1000"), (33_650, "33.65", "33,65"),
    (None, "", ""),
])
def test_a_mass_is_shown_back_in_a_form_as_the_reader_reads_it(grams: int | None, english: str, russian: str) -> None:
    assert (kg_value(grams, "en"), kg_value(grams, "ru")) == (english, russian)
    if grams:
        assert read_kg(english, "en") == read_kg(russian, "ru") == grams
