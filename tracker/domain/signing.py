"""Signed chain heads: an Ed25519 key the database never sees.

The private key lives in a file (the instance folder's ``evidence-signing-key.pem`` or
``EVIDENCE_KEY_FILE``), readable by the application and gateway processes only. Every
append signs the chain's new head (chain, length, newest hash, time). Whoever holds only
database credentials can recompute hashes but cannot sign, and an auditor verifies with
the public key, which cannot sign either. Ed25519 rather than HMAC for that reason.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

log = logging.getLogger(__name__)

#: Names the statement format inside every signed message, so a signature means one thing only.
STATEMENT_FORMAT = "mercury-chain-head/1"


class SigningKeyError(ValueError):
    """The signing key is missing, unreadable or not an Ed25519 key."""


@dataclass(frozen=True)
class HeadStatement:
    """What a signature vouches for: chain ``chain`` had ``length`` rows ending in ``tip_hash``."""

    chain: str
    length: int
    tip_hash: str | None
    signed_at: datetime

    def message(self) -> bytes:
        """Return the exact bytes that are signed (canonical JSON)."""
        return json.dumps({
            "format": STATEMENT_FORMAT, "chain": self.chain, "length": self.length,
            "tip_hash": self.tip_hash, "signed_at": iso_utc(self.signed_at),
        }, sort_keys=True, separators=(",", ":")).encode("utf-8")


def iso_utc(moment: datetime) -> str:
    """Return ``moment`` as ISO 8601 UTC with microseconds (one spelling for signing and files)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Verifier:
    """Checks signatures with a public key; cannot sign."""

    def __init__(self, public_key: Ed25519PublicKey) -> None:
        """Wrap ``public_key``."""
        self.public_key = public_key
        raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.key_id = hashlib.sha256(raw).hexdigest()[:16]

    def verify(self, statement: HeadStatement, signature: str) -> bool:
        """Tell whether ``signature`` (hex) is this key's signature of ``statement``."""
        try:
            self.public_key.verify(bytes.fromhex(signature), statement.message())
        except (InvalidSignature, ValueError):
            return False
        return True

    def public_pem(self) -> str:
        """Return the public key as PEM, for auditors."""
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


class Signer(Verifier):
    """Signs chain heads with the private key."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        """Wrap ``private_key``."""
        super().__init__(private_key.public_key())
        self._private_key = private_key

    def sign(self, statement: HeadStatement) -> str:
        """Return the signature of ``statement`` as hex."""
        return self._private_key.sign(statement.message()).hex()


def create_key_file(path: Path) -> Signer:
    """Write a new private key to ``path`` (mode 0600); refuse to replace an existing one.

    The key is written beside ``path`` and linked into place, so a process starting at the
    same moment reads either no file or the whole key.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        os.link(draft, path)
    except FileExistsError:
        raise SigningKeyError(f"{path} exists: a signing key is never replaced silently") from None
    finally:
        draft.unlink(missing_ok=True)
    return Signer(key)


def load_signer(path: Path) -> Signer:
    """Read the private key at ``path``."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise SigningKeyError(f"{path}: cannot read the evidence signing key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path}: not an Ed25519 private key")
    return Signer(key)


def load_verifier(path: Path) -> Verifier:
    """Read a public key (PEM) at ``path``; a private key file is accepted too."""
    data = path.read_bytes() if path.exists() else b""
    if b"PRIVATE KEY" in data:
        return load_signer(path)
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise SigningKeyError(f"{path}: cannot read the public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError(f"{path}: not an Ed25519 public key")
    return Verifier(key)


class _KeyLocation:
    """Where this process finds its signing key; read once, then kept."""

    path: Path | None = None
    create: bool = False
    signer: Signer | None = None


def use_key_file(path: Path, create_if_missing: bool = False) -> None:
    """Sign with the key at ``path`` from now on (created there first if allowed and missing)."""
    if _KeyLocation.path != path:
        _KeyLocation.path, _KeyLocation.create, _KeyLocation.signer = path, create_if_missing, None


def current_signer() -> Signer:
    """Return this process's signer: the configured key, else the settings' (instance folder)."""
    if _KeyLocation.signer is not None:
        return _KeyLocation.signer
    if _KeyLocation.path is None:
        from tracker.config import load_settings

        settings = load_settings()
        use_key_file(settings.signing_key_path, create_if_missing=settings.evidence_key_file is None)
    path = _KeyLocation.path
    assert path is not None
    if not path.exists() and _KeyLocation.create:
        log.warning("no evidence signing key: created %s (keep it; auditors need its public key)", path)
        try:
            _KeyLocation.signer = create_key_file(path)
        except SigningKeyError:  # another process created it first
            _KeyLocation.signer = load_signer(path)
    else:
        _KeyLocation.signer = load_signer(path)
    return _KeyLocation.signer
