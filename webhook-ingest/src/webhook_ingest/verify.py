"""Standard Webhooks verification: the `standardwebhooks` library's signature, wrapped where it falls short. Pure.

A request verifies when its ``webhook-signature`` header holds a ``v1`` HMAC-SHA256 signature, made with one of the
configured ``whsec_…`` secrets, over ``{webhook-id}.{webhook-timestamp}.{body}`` — the body's raw bytes, before
anything parses them — and its timestamp lies within the tolerance of now, in both directions.

Why not ``Webhook.verify`` itself (standardwebhooks 1.1.0): its tolerance is fixed at 5 minutes; it knows one secret
(rotation needs several at once); it accepts float timestamps ("1700000000.5", "1e9"); and on a malformed
signature header it raises ``ValueError`` / ``binascii.Error`` instead of its own error. So the headers and the
timestamp are checked here, strictly, and the library is used for what it is the reference of: ``Webhook(secret)``
reads a secret and ``Webhook.sign`` computes the spec's signature, which is compared in constant time with every
``v1`` signature in the header (the spec: try each; other versions such as ``v1a`` are skipped).

Every failure is a `Refused` with the HTTP status (400 malformed, 401 not authentic or out of time), a
machine-readable code and a short reason — never an exception that would become a 5xx.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"
MIN_SECRET_BYTES = 16  # the spec asks for 24-64; shorter is refused outright
DEFAULT_TOLERANCE_S = 300
MAX_SIGNATURES = 16  # rotation needs a few; more is someone making us compute

_ID = re.compile(r"[\x21-\x2d\x2f-\x7e]{1,256}")  # printable ASCII without '.' or space (the spec forbids '.')
_TIMESTAMP = re.compile(r"[1-9][0-9]{0,11}")  # integer seconds only
_SIGNATURE = re.compile(r"(v[0-9][0-9a-z]*),([A-Za-z0-9+/]+={0,2})")


class Refused(Exception):
    """A request that does not verify: nothing may change because of it."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status  # 400 malformed, 401 not authentic or out of time
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Verified:
    webhook_id: str
    timestamp: int  # seconds since the epoch, as signed
    text: str  # the body, exactly the bytes that were signed, as text


def parse_secrets(values: Iterable[str]) -> tuple[str, ...]:
    """The configured secrets (comma- or whitespace-separated entries), each checked: ``whsec_`` + base64 of at least
    16 bytes. Raises ValueError naming the position of a bad one, never its value."""
    secrets: list[str] = []
    for value in values:
        secrets.extend(s for s in re.split(r"[,\s]+", value) if s)
    for position, secret in enumerate(secrets, start=1):
        if not secret.startswith(SECRET_PREFIX):
            raise ValueError(f"webhook secret #{position} does not start with {SECRET_PREFIX}")
        try:
            key = base64.b64decode(secret[len(SECRET_PREFIX):], validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"webhook secret #{position} is not valid base64 after {SECRET_PREFIX}") from None
        if len(key) < MIN_SECRET_BYTES:
            raise ValueError(f"webhook secret #{position} is {len(key)} bytes; at least {MIN_SECRET_BYTES} are needed")
    return tuple(dict.fromkeys(secrets))


class Verifier:
    """Checks requests against several secrets at once (zero-downtime rotation: any one of them verifies)."""

    def __init__(self, secrets: Iterable[str], tolerance_s: int = DEFAULT_TOLERANCE_S) -> None:
        self._signers = tuple(Webhook(secret) for secret in secrets)
        self.tolerance_s = tolerance_s

    @property
    def configured(self) -> bool:
        return bool(self._signers)

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> Verified:
        """The verified id, timestamp and text of a request, or `Refused`. ``headers``: lower-case names."""
        webhook_id = _header(headers, "webhook-id")
        if not _ID.fullmatch(webhook_id):
            raise Refused(400, "BAD_WEBHOOK_ID", "webhook-id must be 1-256 printable ASCII characters without '.'")
        raw_timestamp = _header(headers, "webhook-timestamp")
        if not _TIMESTAMP.fullmatch(raw_timestamp):
            raise Refused(400, "BAD_WEBHOOK_TIMESTAMP", "webhook-timestamp must be integer seconds since the epoch")
        signatures = _v1_signatures(_header(headers, "webhook-signature"))
        timestamp = int(raw_timestamp)
        if timestamp < now - self.tolerance_s:
            raise Refused(401, "TIMESTAMP_TOO_OLD", f"webhook-timestamp is more than {self.tolerance_s}s old")
        if timestamp > now + self.tolerance_s:
            raise Refused(401, "TIMESTAMP_IN_FUTURE", f"webhook-timestamp is more than {self.tolerance_s}s ahead")
        try:  # the library signs text; strict UTF-8 re-encodes to exactly these bytes, so the bytes are what's verified
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise Refused(400, "BODY_NOT_UTF8", "the body is not UTF-8 text") from None
        if not self._matches(webhook_id, timestamp, text, signatures):
            raise Refused(401, "SIGNATURE_MISMATCH", "no signature matches a configured secret")
        return Verified(webhook_id, timestamp, text)

    def _matches(self, webhook_id: str, timestamp: int, text: str, signatures: list[bytes]) -> bool:
        signed_at = datetime.fromtimestamp(timestamp, UTC)
        for signer in self._signers:
            expected = base64.b64decode(signer.sign(webhook_id, signed_at, text).split(",", 1)[1])
            if any(hmac.compare_digest(expected, signature) for signature in signatures):
                return True
        return False


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if not value:
        raise Refused(400, "MISSING_HEADER", f"{name} header is missing")
    return value


def _v1_signatures(header: str) -> list[bytes]:
    entries = header.split()
    if len(entries) > MAX_SIGNATURES:
        raise Refused(400, "BAD_WEBHOOK_SIGNATURE", f"webhook-signature holds more than {MAX_SIGNATURES} signatures")
    signatures: list[bytes] = []
    for entry in entries:
        match = _SIGNATURE.fullmatch(entry)
        if match is None:
            raise Refused(400, "BAD_WEBHOOK_SIGNATURE", "webhook-signature entries must be '<version>,<base64>'")
        if match.group(1) != "v1":
            continue  # another scheme (v1a: asymmetric): not configured here
        try:
            signatures.append(base64.b64decode(match.group(2), validate=True))
        except binascii.Error:
            raise Refused(400, "BAD_WEBHOOK_SIGNATURE", "a v1 signature is not valid base64") from None
    if not signatures:
        raise Refused(400, "NO_V1_SIGNATURE", "webhook-signature holds no v1 signature")
    return signatures
