"""Reading a service's Ed25519 signing key (risk's approval key, the audit recorder's checkpoint key) at start.

The PEM is registered for log redaction the moment it is read; a missing or malformed file stops the service with
a message saying which file and how to make one, never a traceback.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tradebus_contracts.signing import private_key_from_pem

from .logging import register_secret


def load_signing_key(path: Path, *, service: str, what: str, create_with: str) -> Ed25519PrivateKey:
    """The private key in ``path``; ``SystemExit`` naming ``what`` it is and the command that ``create_with``."""
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise SystemExit(f"{service}: cannot read the {what} {path}: {exc.strerror}. "
                         f"Create one with `{create_with}`.") from None
    register_secret(pem.decode(errors="replace").strip())
    try:
        return private_key_from_pem(pem)
    except Exception:
        raise SystemExit(f"{service}: {path} is not an Ed25519 private key in PEM form") from None
