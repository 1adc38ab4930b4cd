"""The evidence signing key: where it lives, how it is made, what its public half can do."""
from __future__ import annotations

import stat
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import pytest

from tracker.config import load_settings
from tracker.domain import signing

STATEMENT = signing.HeadStatement("custody_events", 5, "a" * 64, datetime(2026, 12, 4, 12, tzinfo=timezone.utc))


@pytest.fixture(autouse=True)
def back_to_the_run_key(evidence_key: Path) -> Iterator[None]:
    """These tests point the process at other keys; put the run's key back afterwards."""
    yield
    signing.use_key_file(evidence_key)


def test_instance_key_is_made_on_first_use_readable_by_its_owner_only(tmp_path: Path) -> None:
    settings = load_settings({"INSTANCE_PATH": str(tmp_path)}, environ={})
    signing.use_key_file(settings.signing_key_path, create_if_missing=True)
    first = signing.current_signer()
    assert settings.signing_key_path == tmp_path / "evidence-signing-key.pem"
    assert stat.S_IMODE(settings.signing_key_path.stat().st_mode) == 0o600
    assert signing.load_signer(settings.signing_key_path).key_id == first.key_id


def test_configured_key_that_is_missing_is_an_error_not_a_new_key(tmp_path: Path) -> None:
    missing = tmp_path / "keys" / "mercury.pem"
    settings = load_settings({"INSTANCE_PATH": str(tmp_path), "EVIDENCE_KEY_FILE": str(missing)}, environ={})
    signing.use_key_file(settings.signing_key_path, create_if_missing=settings.evidence_key_file is None)
    with pytest.raises(signing.SigningKeyError, match="mercury.pem"):
        signing.current_signer()
    assert not missing.exists()


def test_a_key_is_never_replaced(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    signing.create_key_file(path)
    before = path.read_bytes()
    with pytest.raises(signing.SigningKeyError, match="never replaced"):
        signing.create_key_file(path)
    assert path.read_bytes() == before


def test_public_key_verifies_a_head_but_not_a_changed_one(tmp_path: Path) -> None:
    signer = signing.create_key_file(tmp_path / "key.pem")
    (tmp_path / "key.pub").write_text(signer.public_pem())
    auditor = signing.load_verifier(tmp_path / "key.pub")
    signature = signer.sign(STATEMENT)
    assert auditor.verify(STATEMENT, signature) and auditor.key_id == signer.key_id
    shorter = signing.HeadStatement("custody_events", 4, STATEMENT.tip_hash, STATEMENT.signed_at)
    assert not auditor.verify(shorter, signature)
    assert not auditor.verify(STATEMENT, "not hex")
    assert not hasattr(auditor, "sign")


def test_a_file_that_is_no_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "junk.pem").write_text("-----BEGIN PUBLIC KEY-----\nnonsense\n-----END PUBLIC KEY-----\n")
    with pytest.raises(signing.SigningKeyError):
        signing.load_verifier(tmp_path / "junk.pem")
