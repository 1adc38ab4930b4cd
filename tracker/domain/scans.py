"""Photos of container labels taken by officers' phones: decode, keep a clean copy, explain.

The photo's bytes decide whether it is an image (never the client's content type or
name). What is kept is a re-encoded JPEG (no EXIF, no GPS, no trailing data) stored under
its own SHA-256, which the officer then sends as ``photo_digest`` with the custody event.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import cv2
import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from scanner_app import Decoded, ImageError, decode
from scanner_app.images import load_image
from scanner_app.gs1 import RejectedRead, judge
from tracker.domain.access import Action, declaration_filter, may
from tracker.domain.custody_check import DEFAULT_WINDOW_TOLERANCE, CustodyAnswer, Verdict, check_here
from tracker.domain.errors import Forbidden, ValidationFailed
from tracker.domain.text import text
from tracker.models import Checkpoint, Container, CustodyKind, Declaration, DeclarationItem, DeclarationStatus, User

#: Largest photo accepted, in bytes (a 12 MP phone JPEG is 3-6 MB).
MAX_PHOTO_BYTES = 12 * 1024 * 1024
JPEG_QUALITY = 90
#: A declaration in one of these no longer (or not yet) moves its containers.
_PAST_OR_VOID = (DeclarationStatus.DRAFT, DeclarationStatus.REJECTED, DeclarationStatus.CANCELLED,
                 DeclarationStatus.CLOSED)


@dataclass(frozen=True)
class ScannedContainer:
    """One container read from a photo, with what the tracker knows about it."""

    sscc: str
    formats: tuple[str, ...]
    container: Container | None
    declaration: Declaration | None
    declared_net_g: int | None
    #: True only when the custody check allows the event proposed at the officer's post without an alert.
    expected_here: bool | None
    #: The event proposed at the officer's post (kind, post) and the custody check's answer to it.
    check: tuple[CustodyKind, Checkpoint, CustodyAnswer] | None = None


@dataclass(frozen=True)
class PhotoScan:
    """The answer to a photo: its digest and the containers on it."""

    photo_digest: str
    containers: list[ScannedContainer]


def examine_photo(session: Session, officer: User, photo: bytes, photo_dir: Path,
                  window_tolerance: timedelta = DEFAULT_WINDOW_TOLERANCE) -> PhotoScan:
    """Decode an officer's photo, keep a re-encoded copy under its digest, and describe its containers.

    Raises ValidationFailed({"photo": ...}) for a non-image, a corrupt image, a photo with no
    barcode, or an SSCC whose check digit is wrong; nothing is kept then.
    """
    if not may(officer, Action.RECORD_CUSTODY):
        raise Forbidden(text("only customs officers scan containers"))
    if len(photo) > MAX_PHOTO_BYTES:
        raise ValidationFailed({"photo": text("photo is {size} bytes; the limit is {limit}",
                                                   size=len(photo), limit=MAX_PHOTO_BYTES)})
    try:
        pixels = load_image(photo)
    except ImageError as exc:
        raise ValidationFailed({"photo": str(exc)}) from None
    ssccs = containers_on(decode(pixels))
    digest = keep_photo(pixels, photo_dir)
    return PhotoScan(digest, [describe(session, officer, sscc, formats, window_tolerance)
                              for sscc, formats in ssccs.items()])


#: Most codes one viewfinder read may send (the labels of a pallet in one frame), and the longest text of one.
MAX_CODES, MAX_CODE_TEXT = 20, 512
#: Says which engine read a code that a phone's browser decoded in its viewfinder.
VIEWFINDER_ENGINE = "viewfinder"


def viewfinder_code(text_: str, format_: str, symbology_identifier: str = "") -> Decoded:
    """Return a code a phone's viewfinder read (text, format, AIM identifier) as the decoder's own ``Decoded``."""
    return Decoded(format_, text_, text_.encode("utf-8"), (), VIEWFINDER_ENGINE,
                   symbology_identifier=symbology_identifier)


def examine_codes(session: Session, officer: User, codes: list[Decoded],
                  window_tolerance: timedelta = DEFAULT_WINDOW_TOLERANCE) -> list[ScannedContainer]:
    """Describe the containers of codes read by a phone's live viewfinder.

    The browser only decodes; what the text means (GS1, SSCC, check digits) is judged here by the
    same rules as a photo's codes. Raises ValidationFailed({"codes": ...}) when no code is a
    container's SSCC or one is a rejected read.
    """
    if not may(officer, Action.RECORD_CUSTODY):
        raise Forbidden(text("only customs officers scan containers"))
    if not 0 < len(codes) <= MAX_CODES:
        raise ValidationFailed({"codes": text("send from 1 to {limit} codes", limit=MAX_CODES)})
    try:
        ssccs = containers_on(codes)
    except ValidationFailed as exc:
        raise ValidationFailed({"codes": exc.errors["photo"]}) from None
    return [describe(session, officer, sscc, formats, window_tolerance) for sscc, formats in ssccs.items()]


def containers_on(codes: list[Decoded]) -> dict[str, tuple[str, ...]]:
    """Return each valid SSCC on the photo with the formats it was read from.

    A rejected read (wrong check digit, broken GS1 data) refuses the whole photo: the
    officer must not record a label that cannot be trusted.
    """
    found: dict[str, tuple[str, ...]] = {}
    rejected: set[str] = set()
    for code in codes:
        verdict = judge(code)
        if isinstance(verdict, RejectedRead):
            rejected.add(verdict.reason)
        elif verdict is not None:
            found[verdict.sscc] = (*found.get(verdict.sscc, ()), code.format)
    if rejected:
        raise ValidationFailed({"photo": text("rejected: {reasons}; the label must not be trusted",
                                               reasons="; ".join(sorted(rejected)))})
    if not found:
        what = ", ".join(sorted({c.format for c in codes}))
        raise ValidationFailed({"photo": text("no container SSCC in the barcodes found ({formats})", formats=what)
                                if codes else text("no barcode found on the photo")})
    return found


def keep_photo(pixels: np.ndarray, photo_dir: Path) -> str:
    """Store the pixels as a fresh JPEG named by its SHA-256 (atomic); return the digest."""
    ok, encoded = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValidationFailed({"photo": text("the image could not be re-encoded")})
    data = encoded.tobytes()
    digest = hashlib.sha256(data).hexdigest()
    photo_dir.mkdir(parents=True, exist_ok=True)
    target = photo_dir / f"{digest}.jpg"
    if not target.exists():
        handle, partial = tempfile.mkstemp(dir=photo_dir, suffix=".part")
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(partial, target)
    return digest


def describe(session: Session, officer: User, sscc: str, formats: tuple[str, ...],
             window_tolerance: timedelta = DEFAULT_WINDOW_TOLERANCE) -> ScannedContainer:
    """Tell what the tracker knows about ``sscc``: the container, its declaration, and the custody
    check's answer to the event the officer would record now at their post ("expected here")."""
    container = session.scalars(select(Container).where(Container.sscc == sscc)).one_or_none()
    item = None if container is None else current_item(session, officer, container)
    declaration = item.declaration if item else None
    if declaration is None:
        return ScannedContainer(sscc, formats, container, None, None, None)
    check = check_here(session, officer, container, declaration, datetime.now(timezone.utc), window_tolerance)
    expected = check is not None and check[2].verdict == Verdict.ALLOWED
    assert item is not None
    return ScannedContainer(sscc, formats, container, declaration, item.declared_net_g, expected, check)


def current_item(session: Session, officer: User, container: Container) -> DeclarationItem | None:
    """Return the container's line on its newest live declaration the officer may see."""
    return session.scalars(
        select(DeclarationItem).join(Declaration)
        .where(DeclarationItem.container_id == container.id, declaration_filter(officer),
               Declaration.status.not_in(_PAST_OR_VOID))
        .order_by(Declaration.id.desc()).limit(1)
    ).one_or_none()
