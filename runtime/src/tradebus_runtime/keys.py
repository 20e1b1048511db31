"""Reading a service's Ed25519 signing key (risk's approval key, the audit recorder's checkpoint key) at start.

The key file must be readable by its owner only: one that group or others can read (``mode & 0o077``) is refused,
naming the file and the ``chmod 600`` fix, before a byte of it is read. The PEM is registered for log redaction the
moment it is read; a missing or malformed file stops the service with a message saying which file and how to make
one, never a traceback.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tradebus_contracts.signing import private_key_from_pem

from .logging import register_secret

__all__ = ["KeyFileError", "load_signing_key", "read_private_key_file"]


class KeyFileError(RuntimeError):
    """A private key file that may not be used as it is; the message names the file and the fix."""


def read_private_key_file(path: Path) -> bytes:
    """The bytes of a private key file, or `KeyFileError` when group or others may read it (checked on the open
    file, so the mode seen is the mode of what is read). ``OSError`` when it cannot be read at all."""
    with path.open("rb") as f:
        mode = stat.S_IMODE(os.fstat(f.fileno()).st_mode)
        if mode & 0o077:
            raise KeyFileError(
                f"{path} can be read by group or others (mode {mode:04o}); a private key must be readable by its "
                f"owner only: run `chmod 600 {path}` (and make a new key if others may have read it)"
            )
        return f.read()


def load_signing_key(path: Path, *, service: str, what: str, create_with: str) -> Ed25519PrivateKey:
    """The private key in ``path``; ``SystemExit`` naming ``what`` it is and the command that ``create_with``."""
    try:
        pem = read_private_key_file(path)
    except KeyFileError as exc:
        raise SystemExit(f"{service}: refusing the {what}: {exc}") from None
    except OSError as exc:
        raise SystemExit(f"{service}: cannot read the {what} {path}: {exc.strerror}. "
                         f"Create one with `{create_with}`.") from None
    register_secret(pem.decode(errors="replace").strip())
    try:
        return private_key_from_pem(pem)
    except Exception:
        raise SystemExit(f"{service}: {path} is not an Ed25519 private key in PEM form") from None
