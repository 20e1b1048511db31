"""Ed25519-signed risk approvals (DESIGN §5.1): only approved orders reach the broker.

The risk service signs, the order gateway verifies, both through this module so they cannot disagree.

What is signed: the RFC 8785 (JCS) canonical JSON of every ``RiskApproved`` field except the envelope's
transport fields (event_id, event_type, schema_version, occurred_at, producer, correlation_id,
causation_id) and the signature itself; i.e. the order fields, order_id, approval_id, issued_at, expires_at
and key_id. Decimals are their wire strings (so ``"10.50"`` and ``"10.5"`` sign differently: the gateway
submits exactly the signed string), datetimes ISO-8601 UTC with microseconds and ``Z``, UUIDs lowercase
hyphenated, enums their values. The encoding is spelled out here rather than taken from pydantic's JSON, so a
pydantic upgrade cannot silently change the bytes under existing signatures.

Key handling is in memory only (no files): private keys as PKCS#8 PEM (optionally password-encrypted),
public keys as raw 32 bytes in base64, and a key id = first 16 hex chars of SHA-256 of the raw public key.
Several public keys can be trusted at once, which is how keys rotate.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID, uuid4

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tradebus_contracts.decimal_types import decimal_to_str
from tradebus_contracts.envelope import Envelope
from tradebus_contracts.events import OrderRequested, RiskApproved
from tradebus_contracts.orders import OrderFields

__all__ = [
    "ApprovalRejected",
    "SIGNED_FIELDS",
    "DEFAULT_CLOCK_SKEW",
    "canonical_value",
    "canonical_json",
    "canonical_approval_bytes",
    "sign_approval",
    "verify_approval",
    "signed_order",
    "generate_private_key",
    "private_key_to_pem",
    "private_key_from_pem",
    "public_key_to_b64",
    "public_key_from_b64",
    "key_id_for",
    "trusted_keys",
]

SIGNED_FIELDS: tuple[str, ...] = tuple(
    name for name in RiskApproved.model_fields if name not in Envelope.model_fields and name != "signature"
)
"""Derived, not listed: a field added to RiskApproved is signed automatically."""

DEFAULT_CLOCK_SKEW = timedelta(seconds=5)
_SIGNATURE_BYTES = 64
_MAX_SAFE_INTEGER = 2**53 - 1
_json_string = json.encoder.encode_basestring  # type: ignore[attr-defined]  # its C form, non-ASCII kept


class ApprovalRejected(Exception):
    """The approval must not be acted on. ``code`` is machine-readable: UNKNOWN_KEY_ID, BAD_SIGNATURE,
    EXPIRED, NOT_YET_VALID or MALFORMED."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def canonical_value(value: Any) -> Any:
    """A field value as signed documents carry it in RFC 8785 JSON: decimals as their wire strings, datetimes
    ``YYYY-MM-DDTHH:MM:SS.ffffffZ``, UUIDs as strings (approvals here, audit checkpoints in ``audit``)."""
    if isinstance(value, Decimal):
        return decimal_to_str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if value is None or isinstance(value, (bool, int, str)):
        return value
    raise TypeError(f"no canonical form for {type(value).__name__}")  # a new field type needs a rule here


def canonical_json(document: Mapping[str, str | int | bool | None]) -> bytes:
    """RFC 8785 (JCS) bytes of a flat JSON object of strings, integers, booleans and nulls: what `canonical_value`
    makes of a signed document's fields. The same bytes as the ``rfc8785`` package gives (a property test holds
    them equal) at a quarter of its cost, which every approval pays twice, in risk and in the gateway: members
    sorted by the UTF-16 code units of their names; strings escaped as ECMAScript's JSON.stringify does, which is
    exactly ``json``'s escaping with non-ASCII kept (only ``"``, ``\\`` and the control characters, in short forms
    or lowercase ``\\u00xx``); integers only within ±(2**53 − 1). Raises ValueError on a string that is not valid
    Unicode (a lone surrogate) or an integer out of range, TypeError on any other value."""
    names = sorted(document) if all(name.isascii() for name in document) else \
        sorted(document, key=lambda name: name.encode("utf-16-be", "surrogatepass"))
    members = ",".join(f"{_json_string(name)}:{_json_scalar(document[name])}" for name in names)
    return f"{{{members}}}".encode()  # strict UTF-8: a lone surrogate raises (UnicodeEncodeError is a ValueError)


def _json_scalar(value: str | int | bool | None) -> str:
    if isinstance(value, str):
        return _json_string(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if abs(value) > _MAX_SAFE_INTEGER:
            raise ValueError(f"{value} is beyond the integers JSON numbers hold exactly")
        return str(value)
    raise TypeError(f"no canonical JSON for {type(value).__name__}")


def canonical_approval_bytes(approved: RiskApproved) -> bytes:
    """The exact bytes the signature covers."""
    return canonical_json({name: canonical_value(getattr(approved, name)) for name in SIGNED_FIELDS})


def sign_approval(
    request: OrderRequested,
    *,
    private_key: Ed25519PrivateKey,
    issued_at: datetime,
    ttl: timedelta,
    producer: str,
    key_id: str | None = None,
    approval_id: UUID | None = None,
) -> RiskApproved:
    """Approve ``request`` exactly as requested. ``key_id`` defaults to ``key_id_for`` the key's public half;
    the approval is caused by the request (causation_id) and correlated by its order_id."""
    if ttl <= timedelta(0):
        raise ValueError("ttl must be positive")
    unsigned = RiskApproved(
        **request.order_fields().model_dump(),
        order_id=request.order_id,
        approval_id=approval_id or uuid4(),
        issued_at=issued_at,
        expires_at=issued_at + ttl,
        key_id=key_id or key_id_for(private_key.public_key()),
        signature="",
        producer=producer,
        correlation_id=str(request.order_id),
        causation_id=request.event_id,
    )
    signature = private_key.sign(canonical_approval_bytes(unsigned))
    return unsigned.model_copy(update={"signature": base64.b64encode(signature).decode("ascii")})


def verify_approval(
    approved: RiskApproved,
    trusted: Mapping[str, Ed25519PublicKey],
    now: datetime,
    *,
    clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
) -> None:
    """Return only if ``approved`` was signed by a trusted key and is valid at ``now``; else raise
    ``ApprovalRejected``. The signature is checked before the clock, so a forged approval is always reported
    as forged. ``clock_skew`` tolerates a risk host slightly ahead of ours (NOT_YET_VALID only; expiry is
    exact). "Unused" (single use) is the gateway's duty: it records approval_ids it has submitted."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    public_key = trusted.get(approved.key_id)
    if public_key is None:
        raise ApprovalRejected("UNKNOWN_KEY_ID", f"key id {approved.key_id!r} is not trusted")
    try:
        signature = base64.b64decode(approved.signature, validate=True)
    except (binascii.Error, ValueError):
        raise ApprovalRejected("MALFORMED", "signature is not base64") from None
    if len(signature) != _SIGNATURE_BYTES:
        raise ApprovalRejected("MALFORMED", f"signature must be {_SIGNATURE_BYTES} bytes, got {len(signature)}")
    if approved.expires_at <= approved.issued_at:
        raise ApprovalRejected("MALFORMED", "expires_at is not after issued_at")
    try:
        public_key.verify(signature, canonical_approval_bytes(approved))
    except InvalidSignature:
        raise ApprovalRejected("BAD_SIGNATURE", "signature does not match the approved order") from None
    if now + clock_skew < approved.issued_at:
        raise ApprovalRejected("NOT_YET_VALID", f"issued at {approved.issued_at.isoformat()}, now {now.isoformat()}")
    if now >= approved.expires_at:
        raise ApprovalRejected("EXPIRED", f"expired at {approved.expires_at.isoformat()}, now {now.isoformat()}")


def signed_order(approved: RiskApproved) -> OrderFields:
    """The order fields the signature covers. After ``verify_approval`` passes, the gateway submits exactly
    this (and checks ``signed_order(approved) == what_it_submits`` if it builds the request elsewhere)."""
    return approved.order_fields()


# --- keys (in memory only) ---------------------------------------------------------------------------------


def generate_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_key_to_pem(key: Ed25519PrivateKey, password: bytes | None = None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def private_key_from_pem(pem: bytes, password: bytes | None = None) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=password)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"expected an Ed25519 private key, got {type(key).__name__}")
    return key


def public_key_to_b64(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def public_key_from_b64(text: str) -> Ed25519PublicKey:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("public key is not base64") from None
    if len(raw) != 32:
        raise ValueError(f"an Ed25519 public key is 32 bytes, got {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def key_id_for(key: Ed25519PublicKey) -> str:
    """First 16 hex chars of SHA-256 of the raw public key: stable, derivable by anyone holding the key."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def trusted_keys(public_keys_b64: Iterable[str]) -> dict[str, Ed25519PublicKey]:
    """``{key_id: key}`` from base64 public keys, e.g. a comma-separated setting split on ','."""
    keys = (public_key_from_b64(text) for text in public_keys_b64 if text.strip())
    return {key_id_for(key): key for key in keys}
