"""GS1 identifiers: the mod-10 check digit and the SSCC of a container."""
from __future__ import annotations

from tracker.domain.text import text

SSCC_LENGTH = 18


class InvalidIdentifier(ValueError):
    """A GS1 identifier has the wrong form or a wrong check digit."""


def gs1_check_digit(body: str) -> int:
    """Return the GS1 mod-10 check digit for ``body`` (all digits, check digit excluded).

    Weights 3 and 1 alternate from the rightmost digit of the body.
    """
    if not body.isdigit() or not body.isascii():
        raise InvalidIdentifier(text("not all digits: {body!r}", body=body))
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def is_valid_sscc(sscc: str) -> bool:
    """Tell whether ``sscc`` is 18 digits ending with the right check digit."""
    if len(sscc) != SSCC_LENGTH or not sscc.isdigit() or not sscc.isascii():
        return False
    return gs1_check_digit(sscc[:-1]) == int(sscc[-1])


def validate_sscc(sscc: str) -> str:
    """Return ``sscc`` when valid, else raise :class:`InvalidIdentifier` saying why."""
    if len(sscc) != SSCC_LENGTH or not sscc.isdigit() or not sscc.isascii():
        raise InvalidIdentifier(text("an SSCC is {length} digits, got {sscc!r}", length=SSCC_LENGTH, sscc=sscc))
    expected = gs1_check_digit(sscc[:-1])
    if expected != int(sscc[-1]):
        raise InvalidIdentifier(text("SSCC {sscc} check digit should be {expected}", sscc=sscc, expected=expected))
    return sscc


def make_sscc(extension: int, company_prefix: str, serial: int) -> str:
    """Build a valid SSCC from extension digit, GS1 company prefix and serial reference."""
    serial_width = SSCC_LENGTH - 2 - len(company_prefix)
    if not 0 <= extension <= 9 or serial_width < 1 or serial >= 10**serial_width:
        raise InvalidIdentifier(text("extension, company prefix and serial do not fit 17 digits"))
    body = f"{extension}{company_prefix}{serial:0{serial_width}d}"
    return body + str(gs1_check_digit(body))


def sscc_check_sql(column: str) -> str:
    """Return a portable SQL condition that holds when ``column`` is a valid SSCC.

    Used as a CHECK constraint so the database refuses a bad check digit too.
    """
    terms = " + ".join(
        f"{3 if i % 2 == 0 else 1} * CAST(substr({column}, {i + 1}, 1) AS INTEGER)"
        for i in range(SSCC_LENGTH - 1)
    )
    digits_removed = column
    for digit in "0123456789":
        digits_removed = f"replace({digits_removed}, '{digit}', '')"
    # CASE guards the casts: PostgreSQL would raise on CAST('x' AS INTEGER).
    return (
        f"CASE WHEN length({column}) = {SSCC_LENGTH} AND {digits_removed} = ''"
        f" THEN (10 - ({terms}) % 10) % 10 = CAST(substr({column}, {SSCC_LENGTH}, 1) AS INTEGER)"
        " ELSE 1 = 0 END"
    )
