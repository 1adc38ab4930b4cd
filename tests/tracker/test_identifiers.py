"""GS1 check digits and declaration reference numbers."""
from __future__ import annotations

import pytest

from tracker.domain.gs1 import (
    InvalidIdentifier,
    gs1_check_digit,
    is_valid_sscc,
    make_sscc,
    validate_sscc,
)
from tracker.domain.references import (
    InvalidReference,
    check_character,
    make_reference,
    validate_reference,
)


def test_check_digit_matches_gs1_published_examples() -> None:
    # SSCC from the GS1 General Specifications and a GTIN-13 from GS1's check digit calculator.
    assert gs1_check_digit("10614141123456789") == 7
    assert gs1_check_digit("629104150021") == 3


def test_sscc_with_wrong_check_digit_is_refused_with_the_right_digit_named() -> None:
    with pytest.raises(InvalidIdentifier, match="should be 7"):
        validate_sscc("106141411234567890")


@pytest.mark.parametrize("text", ["10614141123456789", "1061414112345678977", "10614141123456789X", "１06141411234567897"])
def test_sscc_of_wrong_length_or_characters_is_invalid(text: str) -> None:
    assert not is_valid_sscc(text)


def test_made_ssccs_are_valid_and_distinct() -> None:
    codes = {make_sscc(0, "470000001", n) for n in range(1, 200)}
    assert len(codes) == 199 and all(is_valid_sscc(c) for c in codes)


def test_reference_check_character_is_iso_6346() -> None:
    # ISO 6346's own worked example: container CSQU 305438, check digit 3.
    assert check_character("CSQU305438") == "3"


def test_reference_round_trips_and_catches_typing_errors() -> None:
    reference = make_reference(2026, 1234)
    assert validate_reference(reference.lower()) == reference
    swapped = reference[:-3] + reference[-2] + reference[-3] + reference[-1]
    changed = reference[:-2] + str((int(reference[-2]) + 1) % 10) + reference[-1]
    for wrong in (swapped, changed):
        with pytest.raises(InvalidReference, match="check character"):
            validate_reference(wrong)
