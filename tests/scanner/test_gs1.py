"""GS1 data in scanned codes: element strings, (AI) text, Digital Link URIs, SSCC check digits."""
from __future__ import annotations

from decimal import Decimal

import pytest

from scanner_app.decoded import Decoded
from scanner_app.gs1 import GS1Error, container_reads, parse_gs1

GS = "\x1d"
SSCC = "106141411234567897"          # valid: check digit 7
BAD_SSCC = "106141411234567898"      # same body, wrong check digit
GTIN = "10614141123459"              # valid: check digit 9


def code(text: str, identifier: str = "", fmt: str = "Code128", engine: str = "zxing-cpp") -> Decoded:
    return Decoded(format=fmt, text=text, raw=text.encode(), points=(), engine=engine,
                   symbology_identifier=identifier)


@pytest.mark.parametrize(("text", "identifier", "expected"), [
    (f"00{SSCC}", "]C1", [("00", SSCC)]),
    (f"00{SSCC}{GS}10LOT-7{GS}21S9", "]C1", [("00", SSCC), ("10", "LOT-7"), ("21", "S9")]),
    (f"{GS}00{SSCC}", "]C1", [("00", SSCC)]),                                  # leading FNC1 kept as GS
    (f"]C100{SSCC}{GS}10ABC", "", [("00", SSCC), ("10", "ABC")]),              # identifier in the text
    (f"01{GTIN}3103034500{GS}10B1", "]d2", [("01", GTIN), ("3103", "034500"), ("10", "B1")]),
    (f"00{SSCC}3102003450", "]Q3", [("00", SSCC), ("3102", "003450")]),
    (f"(00){SSCC}(10)ABC", "]C0", [("00", SSCC), ("10", "ABC")]),              # human-readable form
    (f"https://id.example/00/{SSCC}", "]Q1", [("00", SSCC)]),                  # Digital Link
    (f"https://id.gs1.org/01/{GTIN}/10/B7/21/X1?3103=034500", "]Q1",
     [("01", GTIN), ("10", "B7"), ("21", "X1"), ("3103", "034500")]),
    (f"00{SSCC}", "", [("00", SSCC)]),                                         # engine without identifiers
])
def test_gs1_forms_give_their_application_identifiers(text: str, identifier: str,
                                                       expected: list[tuple[str, str]]) -> None:
    data = parse_gs1(text, identifier)
    assert data is not None
    assert list(data.elements) == expected


@pytest.mark.parametrize(("text", "identifier"), [
    ("9780804816632", "]E0"),                     # an EAN-13 is not an element string
    ("Code 128", "]C0"),
    ("1234567890", "]Q1"),
    ("https://example.com/manual.pdf", "]Q1"),    # a web address that is no Digital Link
    (f"00{SSCC}", "]C0"),                         # plain Code 128 (no FNC1) that merely starts with 00
    ("00123", ""),
])
def test_text_that_is_not_gs1_gives_none(text: str, identifier: str) -> None:
    assert parse_gs1(text, identifier) is None


@pytest.mark.parametrize("text", ["0012345", "00106141411234567897 10ABC", "2A"])
def test_announced_gs1_that_does_not_parse_raises(text: str) -> None:
    with pytest.raises(GS1Error):
        parse_gs1(text, "]C1")


@pytest.mark.parametrize(("ai", "value", "kg", "grams"), [
    ("3100", "000035", Decimal("35"), 35_000),
    ("3101", "000345", Decimal("34.5"), 34_500),
    ("3103", "034500", Decimal("34.500"), 34_500),
    ("3105", "000150", Decimal("0.00150"), 2),     # 1.5 g rounds to whole grams
    ("3102", "000015", Decimal("0.15"), 150),
])
def test_net_mass_310n_has_n_decimals(ai: str, value: str, kg: Decimal, grams: int) -> None:
    data = parse_gs1(f"00{SSCC}{ai}{value}", "]C1")
    assert data is not None
    assert data.net_mass_kg == kg
    assert data.net_mass_g == grams


def test_batch_serial_and_gtin_are_read() -> None:
    data = parse_gs1(f"01{GTIN}10LOT{GS}21SER", "]d2")
    assert data is not None
    assert (data.gtin, data.batch, data.serial, data.sscc) == (GTIN, "LOT", "SER", None)


@pytest.mark.parametrize("text", [
    f"00{SSCC}",
    f"(00){SSCC}",
    f"https://id.example/00/{SSCC}?3103=034500",
    f"00{SSCC}{GS}10LOT",
])
def test_valid_sscc_is_a_container(text: str) -> None:
    reads = container_reads([code(text, "]C1")])
    assert reads.ssccs == [SSCC]
    assert reads.rejected == []


@pytest.mark.parametrize(("text", "reason"), [
    (f"00{BAD_SSCC}", "check digit should be 7"),
    (f"(00){BAD_SSCC}", "check digit should be 7"),
    (f"https://id.example/00/{BAD_SSCC}", "check digit should be 7"),
    (f"00{SSCC}01{GTIN[:-1]}5", "GTIN check digit"),        # the SSCC beside a wrong GTIN is not trusted
    ("0012345", "not valid GS1 data"),
])
def test_wrong_check_digit_is_rejected_never_a_container(text: str, reason: str) -> None:
    reads = container_reads([code(text, "]C1")])
    assert reads.containers == []
    assert len(reads.rejected) == 1
    assert reason in reads.rejected[0].reason


@pytest.mark.parametrize(("body", "check"), [
    ("00000000000000000", "0"), ("12345678901234567", "5"), ("34012345000000001", "7"),
    ("99999999999999999", "5"), ("04700000010000001", "1"),
])
def test_sscc_check_digit_is_mod_10(body: str, check: str) -> None:
    sscc = body + check
    assert container_reads([code(f"00{sscc}", "]C1")]).ssccs == [sscc]
    wrong = body + str((int(check) + 1) % 10)
    assert container_reads([code(f"00{wrong}", "]C1")]).ssccs == []


def test_one_label_read_twice_is_one_container_and_other_codes_are_ignored() -> None:
    reads = container_reads([
        code(f"00{SSCC}", "]C1"),
        code(f"https://id.example/00/{SSCC}", "]Q1", fmt="QRCode"),
        code("9780804816632", "]E0", fmt="EAN13"),
        code(f"01{GTIN}", "]d2", fmt="DataMatrix"),
    ])
    assert reads.ssccs == [SSCC]
    assert reads.rejected == []
    assert reads.containers[0].decoded.format == "Code128"
