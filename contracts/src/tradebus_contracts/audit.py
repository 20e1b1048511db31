"""The audit trail's hash chain and its signed checkpoints (DESIGN §5.6), shared by audit-recorder and tradectl.

The chain. The audit recorder writes one row per AUDIT stream message, in stream-sequence order, each with a hash
chained to the previous row's:

    h_0 = GENESIS_HASH                                   (32 zero bytes)
    h_n = SHA-256( h_{n-1} ‖ seq_n ‖ SHA-256(bytes_n) )

where ``h_{n-1}`` is the previous row's 32-byte hash, ``seq_n`` the AUDIT stream sequence as 8 bytes unsigned
big-endian, and ``bytes_n`` the message payload exactly as stored in the stream. The sequence is inside the hash,
so a row moved to another sequence breaks its link; the payload enters by its digest, so a verifier can compare a
row with the stream message by digest alone. A valid chain whose head equals a signed checkpoint proves every row
up to it; only an anchor outside the table (the checkpoints, the stream) reveals a truncated tail.

The checkpoints. The recorder signs ``{seq, head_hash, signed_at, key_id}`` with its own Ed25519 key: the
signature covers the RFC 8785 canonical JSON of those four fields (``head_hash`` lowercase hex, ``signed_at``
ISO-8601 UTC with microseconds and ``Z``, the same encodings as approvals in ``signing``). Verification takes the
trusted public keys from the operator, never from the stream that carries the checkpoints.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tradebus_contracts.events import AuditCheckpoint
from tradebus_contracts.signing import canonical_json, canonical_value, key_id_for

__all__ = [
    "GENESIS_HASH",
    "HASH_BYTES",
    "SEQ_BYTES",
    "CHECKPOINT_CORRELATION_ID",
    "CheckpointRejected",
    "payload_digest",
    "chain_link",
    "chain_step",
    "canonical_checkpoint_bytes",
    "sign_checkpoint",
    "verify_checkpoint",
]

HASH_BYTES = 32
SEQ_BYTES = 8
GENESIS_HASH = bytes(HASH_BYTES)
"""The hash "before" the first row (sequence 1)."""
CHECKPOINT_CORRELATION_ID = "audit-trail"
"""Every checkpoint speaks about the same story: the one audit trail."""


def payload_digest(payload: bytes) -> bytes:
    """SHA-256 of a message's bytes, as it enters the chain."""
    return hashlib.sha256(payload).digest()


def chain_link(previous: bytes, seq: int, digest: bytes) -> bytes:
    """``h_n`` from ``h_{n-1}``, the sequence and the payload's digest (for callers that already hold the digest)."""
    if len(previous) != HASH_BYTES or len(digest) != HASH_BYTES:
        raise ValueError("previous hash and payload digest must be 32 bytes each")
    return hashlib.sha256(previous + seq.to_bytes(SEQ_BYTES, "big") + digest).digest()


def chain_step(previous: bytes, seq: int, payload: bytes) -> bytes:
    """``h_n = SHA-256(h_{n-1} ‖ seq_n ‖ SHA-256(bytes_n))``; ``seq`` must fit in 8 bytes unsigned."""
    return chain_link(previous, seq, payload_digest(payload))


class CheckpointRejected(Exception):
    """A checkpoint that proves nothing. ``code``: UNKNOWN_KEY_ID, BAD_SIGNATURE or MALFORMED (not base64)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def canonical_checkpoint_bytes(seq: int, head_hash: str, signed_at: datetime, key_id: str) -> bytes:
    """The exact bytes a checkpoint's signature covers."""
    return canonical_json({"seq": seq, "head_hash": head_hash, "signed_at": canonical_value(signed_at),
                           "key_id": key_id})


def sign_checkpoint(seq: int, head_hash: bytes, *, private_key: Ed25519PrivateKey, signed_at: datetime,
                    producer: str) -> AuditCheckpoint:
    """The recorder's statement "the rows up to ``seq`` hash to ``head_hash``", signed with its key."""
    key_id = key_id_for(private_key.public_key())
    head = head_hash.hex()
    signature = private_key.sign(canonical_checkpoint_bytes(seq, head, signed_at, key_id))
    return AuditCheckpoint(seq=seq, head_hash=head, signed_at=signed_at, key_id=key_id,
                           signature=base64.b64encode(signature).decode("ascii"), producer=producer,
                           correlation_id=CHECKPOINT_CORRELATION_ID)


def verify_checkpoint(checkpoint: AuditCheckpoint, trusted: Mapping[str, Ed25519PublicKey]) -> None:
    """Return only if ``checkpoint`` was signed by one of the ``trusted`` keys (``{key_id: key}``)."""
    public_key = trusted.get(checkpoint.key_id)
    if public_key is None:
        raise CheckpointRejected("UNKNOWN_KEY_ID", f"key id {checkpoint.key_id!r} is not trusted")
    signed = canonical_checkpoint_bytes(checkpoint.seq, checkpoint.head_hash, checkpoint.signed_at,
                                        checkpoint.key_id)
    try:
        public_key.verify(base64.b64decode(checkpoint.signature, validate=True), signed)
    except (binascii.Error, ValueError):
        raise CheckpointRejected("MALFORMED", "signature is not base64") from None
    except InvalidSignature:
        raise CheckpointRejected("BAD_SIGNATURE", "signature does not match the checkpoint") from None
