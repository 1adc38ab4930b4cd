"""Chain heads signed with the evidence key, kept append-only in ``chain_signatures``.

A signature vouches for a chain's length and newest hash at a moment. The newest
signature of a chain is the authority verify-chain trusts: rows beyond it were appended
outside the application, fewer rows mean rows were cut, a different hash at its length
means the chain was rewritten (even if every hash was recomputed).
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.domain.signing import HeadStatement, Verifier, current_signer
from tracker.models import ChainSignature


def statement_of(signed: ChainSignature) -> HeadStatement:
    """Return the statement ``signed`` claims to sign."""
    return HeadStatement(signed.chain, signed.length, signed.tip_hash, signed.signed_at)


def sign_head(session: Session, chain: str, length: int, tip_hash: str | None) -> ChainSignature:
    """Sign the head (``length`` rows ending in ``tip_hash``) of ``chain`` and keep the signature."""
    signer = current_signer()
    statement = HeadStatement(chain, length, tip_hash, datetime.now(timezone.utc))
    signed = ChainSignature(chain=chain, length=length, tip_hash=tip_hash, signed_at=statement.signed_at,
                            key_id=signer.key_id, signature=signer.sign(statement))
    session.add(signed)
    return signed


def latest_signed_head(session: Session, chain: str) -> ChainSignature | None:
    """Return the newest (longest) signed head of ``chain``, or None when it was never signed."""
    return session.scalars(select(ChainSignature).where(ChainSignature.chain == chain)
                           .order_by(ChainSignature.length.desc(), ChainSignature.id.desc()).limit(1)).first()


def signature_holds(signed: ChainSignature, verifier: Verifier) -> bool:
    """Tell whether ``signed`` carries a valid signature by ``verifier``'s key."""
    return verifier.verify(statement_of(signed), signed.signature)
