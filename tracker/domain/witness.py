"""Witnessed heads: signed chain heads an auditor keeps, as in a transparency log (RFC 6962/9162).

An exported head is a signed statement (chain, size, newest hash, time). Later, the
chain must extend it: the row at that size still has that hash and every later row
chains from it. For a hash chain this is the whole consistency proof, so no Merkle tree
is kept: verify-chain walks every row anyway, and an auditor who holds the database
(read-only) or an export of it checks in one pass. A Merkle tree would only pay off for
auditors who hold no copy and want logarithmic proofs from an untrusted server.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from sqlalchemy.orm import Session

from tracker.domain.chain import CHAINS, chain_rows, first_broken
from tracker.domain.signed_heads import latest_signed_head, sign_head
from tracker.domain.signing import HeadStatement, Verifier, iso_utc

FORMAT = "mercury-witnessed-heads/1"


class WitnessError(ValueError):
    """A witnessed-heads file cannot be read, or is not signed by the key in use."""


def export_heads(session: Session, verifier: Verifier) -> dict[str, Any]:
    """Return every chain's newest signed head as a document an auditor keeps."""
    heads = []
    for name in CHAINS:
        signed = latest_signed_head(session, name)
        if signed is not None:
            heads.append({"chain": signed.chain, "length": signed.length, "tip_hash": signed.tip_hash,
                          "signed_at": iso_utc(signed.signed_at), "signature": signed.signature})
    return {"format": FORMAT, "key_id": verifier.key_id, "public_key": verifier.public_pem(),
            "exported_at": iso_utc(datetime.now(timezone.utc)), "heads": heads}


def _statement(head: dict[str, Any]) -> HeadStatement:
    signed_at = datetime.strptime(str(head["signed_at"]), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    length = head["length"]
    if not isinstance(length, int) or isinstance(length, bool) or length < 0:
        raise ValueError("length is not a whole number")
    return HeadStatement(str(head["chain"]), length, head["tip_hash"], signed_at)


def read_witnessed(data: str, verifier: Verifier) -> list[HeadStatement]:
    """Read an exported document; every head must carry a valid signature by ``verifier``'s key."""
    try:
        document = json.loads(data)
        if document.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} document")
        pairs = [(_statement(head), str(head["signature"])) for head in document["heads"]]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise WitnessError(f"cannot read the witnessed heads: {exc}") from None
    for statement, signature in pairs:
        if not verifier.verify(statement, signature):
            raise WitnessError(f"the witnessed head of {statement.chain} ({statement.length} rows) is not "
                               f"signed by key {verifier.key_id}")
    return [statement for statement, _ in pairs]


def sign_unsigned_chains(session: Session) -> list[str]:
    """Sign the heads of chains that were never signed (rows from before signing), if intact.

    A chain that has a signed head is never re-signed here: rows beyond it are forgeries
    to report, not to vouch for.
    """
    signed = []
    for name, model in CHAINS.items():
        if latest_signed_head(session, name) is not None:
            continue
        rows = list(chain_rows(session, model))
        if rows and first_broken(rows) is None:
            sign_head(session, name, len(rows), rows[-1].row_hash)
            signed.append(name)
    session.flush()
    return signed
