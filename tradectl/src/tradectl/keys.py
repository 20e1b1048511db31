"""``tradectl keys gen-signing`` / ``gen-audit``: the risk service's approval key pair, the audit recorder's
checkpoint key pair (Ed25519 both, made the same way).

The private key goes to a 0600 PEM file that only the risk service reads (``RISK_SIGNING_KEY_PATH``); the
public key (raw, base64) and its key id are printed and written next to it, for the gateway's trusted keys.
Several public keys can be trusted at once, so rotation is: generate a new pair under a new name, trust both,
switch the risk service, then drop the old public key.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tradebus_contracts.signing import (
    generate_private_key,
    key_id_for,
    private_key_from_pem,
    private_key_to_pem,
    public_key_from_b64,
    public_key_to_b64,
    trusted_keys,
)
from tradebus_runtime.keys import KeyFileError, read_private_key_file

DEFAULT_NAME = "approval-signing"
AUDIT_KEY_NAME = "audit-signing"
"""The audit recorder's checkpoint key pair (``tradectl keys gen-audit``); ``audit verify`` trusts its ``.pub``."""


@dataclass(frozen=True)
class SigningKeyFiles:
    private_path: Path
    public_path: Path
    key_id: str
    public_b64: str


def signing_key_paths(directory: Path, name: str = DEFAULT_NAME) -> tuple[Path, Path]:
    return directory / f"{name}.pem", directory / f"{name}.pub"


def generate_signing_key(directory: Path, name: str = DEFAULT_NAME, *, overwrite: bool = False) -> SigningKeyFiles:
    private_path, public_path = signing_key_paths(directory, name)
    if private_path.exists() and not overwrite:
        raise FileExistsError(f"{private_path} already exists; pick another --name (rotation) or pass --force")
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = generate_private_key()
    # Create the file 0600 from the start: never a moment where the key is world-readable.
    tmp = private_path.with_suffix(".pem.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private_key_to_pem(key))
    tmp.replace(private_path)
    public_b64 = public_key_to_b64(key.public_key())
    public_path.write_text(public_b64 + "\n")
    return SigningKeyFiles(private_path, public_path, key_id_for(key.public_key()), public_b64)


def ensure_signing_key(directory: Path, name: str = DEFAULT_NAME) -> SigningKeyFiles:
    """The existing key pair under ``directory``, or a new one (used by ``tradectl up`` on first start).

    A ``.pem`` that group or others can read is refused (`KeyFileError`, naming the file and ``chmod 600``). A
    ``.pem`` without its ``.pub`` keeps its key: the ``.pub`` is derived from it and written again (a new pair would
    silently invalidate what the old key signed). Only when there is no ``.pem`` is a new pair made."""
    private_path, public_path = signing_key_paths(directory, name)
    if not private_path.exists():
        return generate_signing_key(directory, name, overwrite=True)
    pem = read_private_key_file(private_path)
    if public_path.exists():
        public_b64 = public_path.read_text().strip()
        return SigningKeyFiles(private_path, public_path, key_id_for(public_key_from_b64(public_b64)), public_b64)
    try:
        public_key = private_key_from_pem(pem).public_key()
    except Exception:
        raise KeyFileError(f"{private_path} is not an Ed25519 private key in PEM form, and {public_path} is missing; "
                           f"restore the pair, or delete {private_path} to make a new one") from None
    public_b64 = public_key_to_b64(public_key)
    public_path.write_text(public_b64 + "\n")
    return SigningKeyFiles(private_path, public_path, key_id_for(public_key), public_b64)


def trusted_audit_keys(public_keys_b64: Iterable[str], home: Path) -> dict[str, Ed25519PublicKey]:
    """The recorder keys ``audit verify`` trusts: the ones given, else ``$TRADEBUS_HOME/keys/audit-signing.pub``.
    Never a key that arrives with the checkpoints: whoever could forge those could forge the key too."""
    given = [text for text in public_keys_b64 if text.strip()]
    if not given:
        _, public_path = signing_key_paths(home / "keys", AUDIT_KEY_NAME)
        if not public_path.exists():
            raise ValueError(f"no trusted audit key: pass --trusted-key, set AUDIT_TRUSTED_KEYS, or keep the "
                             f"recorder's public key in {public_path} (tradectl keys gen-audit)")
        given = [public_path.read_text()]
    return trusted_keys(given)
