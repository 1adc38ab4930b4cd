"""GS1 data in scanned codes: element strings, their human-readable form, Digital Link URIs.

A container label carries its SSCC as AI (00), in a GS1-128 (``]C1``) and as a QR code or
Data Matrix, either as a GS1 element string (``]Q3``/``]d2``) or as a GS1 Digital Link URI
(``https://id.example/00/<SSCC>``). :func:`parse_gs1` reads all of these with biip (the GS1
tables are long; a library made for them keeps up with GS1's changes). :func:`container_reads`
turns decoded codes into container SSCCs; a read whose check digit fails is *rejected* with
the reason and never returned as a container.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from biip import ParseError
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from biip.gs1_element_strings import GS1ElementString
from biip.gs1_messages import GS1Message

from scanner_app.decoded import Decoded
from tracker.domain.gs1 import InvalidIdentifier, validate_sscc

#: AIM symbology identifiers that announce GS1 data (FNC1 in first position).
GS1_SYMBOLOGY_IDENTIFIERS = frozenset({"]C1", "]e0", "]d2", "]Q3", "]J1"})
#: The separator that stands for FNC1 between variable-length fields.
GROUP_SEPARATOR = "\x1d"
SSCC_AI, GTIN_AI, BATCH_AI, SERIAL_AI = "00", "01", "10", "21"

_NET_MASS_KG = re.compile(r"^310([0-5])$")
# Read by an engine that cannot tell whether FNC1 led the symbol: only an SSCC (00) first is
# taken as GS1; "00" followed by 18 digits is not a plausible plain Code 128 text.
_BARE_SSCC = re.compile(r"^\x1d?00\d{18}(\x1d|$)")
_HRI = re.compile(r"^\(\d{2,4}\)")


class GS1Error(ValueError):
    """Text announced as GS1 data (or shaped like it) that does not parse as GS1."""


@dataclass(frozen=True)
class GS1Data:
    """The application identifiers of one code, in order, with the check-digit faults found."""

    elements: tuple[tuple[str, str], ...]
    faults: tuple[str, ...] = ()

    def get(self, ai: str) -> str | None:
        """Return the value of application identifier ``ai`` (first occurrence), or None."""
        return next((value for key, value in self.elements if key == ai), None)

    @property
    def sscc(self) -> str | None:
        """The Serial Shipping Container Code, AI (00)."""
        return self.get(SSCC_AI)

    @property
    def gtin(self) -> str | None:
        """The Global Trade Item Number, AI (01)."""
        return self.get(GTIN_AI)

    @property
    def batch(self) -> str | None:
        """The batch or lot number, AI (10)."""
        return self.get(BATCH_AI)

    @property
    def serial(self) -> str | None:
        """The serial number, AI (21)."""
        return self.get(SERIAL_AI)

    @property
    def net_mass_kg(self) -> Decimal | None:
        """Net mass in kilograms from AI (310n): six digits with n decimals."""
        for ai, value in self.elements:
            match = _NET_MASS_KG.match(ai)
            if match:
                return Decimal(value).scaleb(-int(match.group(1)))
        return None

    @property
    def net_mass_g(self) -> int | None:
        """Net mass in whole grams (how the tracker stores masses), or None."""
        kg = self.net_mass_kg
        return None if kg is None else int((kg * 1000).to_integral_value())

    def as_dict(self) -> dict[str, str]:
        """The elements as {AI: value} (for JSON output)."""
        return dict(self.elements)


def parse_element_string(text: str) -> GS1Data:
    """Parse a GS1 element string: FNC1 as GS, an optional ``]C1``/``]d2``/``]Q3`` prefix, or the
    human-readable ``(00)...(10)...`` form. Raises :class:`GS1Error`."""
    value = text[3:] if text[:3] in GS1_SYMBOLOGY_IDENTIFIERS else text
    try:
        if _HRI.match(value):
            return _data(GS1Message.parse_hri(value).element_strings)
        message = GS1Message.parse(value.lstrip(GROUP_SEPARATOR))
    except ParseError as error:
        raise GS1Error(str(error)) from error
    if not message.element_strings:
        raise GS1Error("empty GS1 element string")
    return _data(message.element_strings)


def parse_digital_link(uri: str) -> GS1Data:
    """Parse a GS1 Digital Link URI (``https://<any resolver>/00/<SSCC>?3103=034500``)."""
    try:
        return _data(GS1DigitalLinkURI.parse(uri).element_strings)
    except ParseError as error:
        raise GS1Error(str(error)) from error


def parse_gs1(text: str, symbology_identifier: str = "") -> GS1Data | None:
    """Return the GS1 data of a decoded text, or None when the text is not GS1 at all.

    GS1 when the symbology identifier (or a prefix of the text) says so, when the text is a
    Digital Link URI, is in the ``(AI)`` human-readable form, or (from an engine that does not
    report identifiers) starts with AI (00). Raises :class:`GS1Error` when it claims GS1 but
    does not parse.
    """
    if text.lower().startswith(("https://", "http://")):
        try:
            return parse_digital_link(text)
        except GS1Error:
            return None  # an ordinary web address, not a Digital Link
    announced = symbology_identifier in GS1_SYMBOLOGY_IDENTIFIERS or text[:3] in GS1_SYMBOLOGY_IDENTIFIERS
    if announced or _HRI.match(text) or (not symbology_identifier and _BARE_SSCC.match(text)):
        return parse_element_string(text)
    return None


def _data(elements: Iterable[GS1ElementString]) -> GS1Data:
    """Collect (AI, value) pairs and the check-digit faults biip found."""
    elements = list(elements)
    faults = tuple(fault for e in elements for fault in (e.sscc_error, e.gtin_error, e.gln_error) if fault)
    return GS1Data(tuple((e.ai.ai, e.value) for e in elements), faults)


@dataclass(frozen=True)
class ContainerRead:
    """A container identified by a code: its valid SSCC, the code, and the rest of its GS1 data."""

    sscc: str
    decoded: Decoded
    gs1: GS1Data


@dataclass(frozen=True)
class RejectedRead:
    """A code that looked like container data but cannot be trusted, and why."""

    decoded: Decoded
    reason: str


@dataclass(frozen=True)
class ContainerReads:
    """What a set of decoded codes says about containers: accepted SSCCs (each once) and rejects."""

    containers: list[ContainerRead] = field(default_factory=list)
    rejected: list[RejectedRead] = field(default_factory=list)

    @property
    def ssccs(self) -> list[str]:
        """The accepted SSCCs in the order they were read."""
        return [read.sscc for read in self.containers]


def container_reads(decoded: Iterable[Decoded]) -> ContainerReads:
    """Sort decoded codes into containers (valid SSCC, check digits right) and rejected reads.

    Codes that are not GS1, or GS1 without an SSCC (a product's GTIN), are neither. The same
    SSCC read from the GS1-128 and the QR code of one label is one container.
    """
    result = ContainerReads()
    seen: set[str] = set()
    for read in decoded:
        verdict = judge(read)
        if isinstance(verdict, RejectedRead):
            result.rejected.append(verdict)
        elif verdict is not None and verdict.sscc not in seen:
            seen.add(verdict.sscc)
            result.containers.append(verdict)
    return result


def judge(read: Decoded) -> ContainerRead | RejectedRead | None:
    """Decide one code: a container, a rejected read (with the reason), or None (not container data)."""
    try:
        data = parse_gs1(read.text, read.symbology_identifier)
    except GS1Error as error:
        return RejectedRead(read, f"not valid GS1 data: {error}")
    if data is None or data.sscc is None:
        return None
    try:
        sscc = validate_sscc(data.sscc)
    except InvalidIdentifier as error:
        return RejectedRead(read, str(error))
    if data.faults:
        # Another check digit of the same code failed: the SSCC beside it is not trustworthy either.
        return RejectedRead(read, "; ".join(data.faults))
    return ContainerRead(sscc, read, data)
