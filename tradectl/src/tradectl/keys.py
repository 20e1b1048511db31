"""``tradectl keys gen-signing``: the risk service's Ed25519 approval key pair.

The private key goes to a 0600 PEM file that only the risk service reads (``RISK_SIGNING_KEY_PATH``); the
public key (raw, base64) and its key id are printed and written next to it, for the gateway's trusted keys.
Several public keys can be trusted at once, so rotation is: generate a new pair under a new name, trust both,
switch the risk service, then drop the old public key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tradebus_contracts.signing import generate_private_key, key_id_for, private_key_to_pem, public_key_to_b64

DEFAULT_NAME = "approval-signing"


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
    """The existing key pair under ``directory``, or a new one (used by ``tradectl up`` on first start)."""
    private_path, public_path = signing_key_paths(directory, name)
    if private_path.exists() and public_path.exists():
        from tradebus_contracts.signing import public_key_from_b64

        public_b64 = public_path.read_text().strip()
        return SigningKeyFiles(private_path, public_path, key_id_for(public_key_from_b64(public_b64)), public_b64)
    return generate_signing_key(directory, name, overwrite=True)
