"""Broker credentials at rest: AES-256-GCM in PostgreSQL, master keys outside it.

Why this shape:
* The database never holds a usable secret: the API key id *and* the secret are one encrypted JSON blob; a row
  shows only account, mode, which master key encrypted it, nonce, ciphertext and dates. A database dump or
  backup alone gives nothing.
* The master key lives in ``$TRADEBUS_HOME/master.keys`` (0600 from creation, refused if group/other can access
  it) or in ``TRADEBUS_MASTER_KEY`` (``base64`` or ``KID:base64``), never in the database and never in a log line
  (every key is registered with `register_secret`).
* A fresh 12-byte nonce per encryption (GCM breaks if a nonce repeats under one key), and associated data that
  binds the row (account, mode): a ciphertext copied onto another row, e.g. paper onto live, does not decrypt.
* Rows name their master key id, so the keyring may hold several keys at once: rotation re-encrypts every row in
  one transaction and only then drops a key, and only if no row still needs it. A crash at any step leaves every
  row decryptable.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

import asyncpg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .db import schema_for
from .logging import get_logger, register_secret

log = get_logger(__name__)

ENV_MASTER_KEY = "TRADEBUS_MASTER_KEY"
KEYRING_FILE = "master.keys"
MODES = ("paper", "live")
_AAD_PREFIX = b"tradebus-credentials/v1|"


class CredentialError(RuntimeError):
    """Credentials or master keys cannot be used. The message never contains secret material."""


@dataclass(frozen=True)
class BrokerCredentials:
    account: str
    mode: str
    api_key_id: str = field(repr=False)
    secret: str = field(repr=False)


class StoredCredential(NamedTuple):
    """What ``keys list`` may show: names and dates, nothing secret."""

    account: str
    mode: str
    created_at: datetime
    updated_at: datetime
    master_key_id: str


@dataclass(frozen=True)
class RotationReport:
    new_key_id: str
    retired_key_ids: tuple[str, ...]
    rows_reencrypted: int


@dataclass(frozen=True)
class Keyring:
    current: str
    keys: Mapping[str, bytes] = field(repr=False)
    path: Path | None = None  # None: the key came from TRADEBUS_MASTER_KEY


def key_id_for(key: bytes) -> str:
    """Short and derived, so a row names its key without revealing it."""
    return hashlib.sha256(key).hexdigest()[:12]


def keyring_path(home: Path) -> Path:
    return home / KEYRING_FILE


def _decode_key(b64: str, where: str) -> bytes:
    try:
        key = base64.b64decode(b64.strip(), validate=True)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise CredentialError(f"{where}: a master key must be base64 of exactly 32 bytes")
    register_secret(b64.strip())
    return key


def keyring_from_env(value: str) -> Keyring:
    kid, sep, b64 = value.strip().rpartition(":")
    key = _decode_key(b64, ENV_MASTER_KEY)
    kid = kid if sep and kid else key_id_for(key)
    return Keyring(kid, {kid: key}, None)


def _write_keyring(path: Path, current: str, keys: Mapping[str, bytes], *, replace: bool) -> None:
    """Temp file created 0600 + fsync + rename: never a half-written or world-readable keyring."""
    body = {"current": current, "keys": {k: base64.b64encode(v).decode() for k, v in keys.items()}}
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(body, indent=2, sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # no clobber: two first uses racing must not both write a key
    finally:
        tmp.unlink(missing_ok=True)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _read_keyring(path: Path) -> Keyring:
    mode = os.stat(path).st_mode & 0o777
    if mode & 0o077:
        raise CredentialError(
            f"{path} is accessible by group or others (mode {mode:04o}); a master keyring must be private: "
            f"run `chmod 600 {path}` and check who may have read it"
        )
    try:
        body = json.loads(path.read_text())
        keys = {kid: _decode_key(b64, str(path)) for kid, b64 in body["keys"].items()}
        current = body["current"]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CredentialError(f"{path} is not a tradebus master keyring ({type(exc).__name__})") from None
    if current not in keys:
        raise CredentialError(f"{path}: current key {current} is not in the keyring")
    return Keyring(current, keys, path)


def load_keyring(path: Path, *, create: bool = True) -> Keyring:
    """TRADEBUS_MASTER_KEY if set, else the keyring file (created with a new key on first use if ``create``)."""
    if os.environ.get(ENV_MASTER_KEY):
        return keyring_from_env(os.environ[ENV_MASTER_KEY])
    if not path.exists():
        if not create:
            raise CredentialError(f"no master key: {path} does not exist and {ENV_MASTER_KEY} is not set")
        key = AESGCM.generate_key(bit_length=256)
        with contextlib.suppress(FileExistsError):  # another process created it first: use theirs
            _write_keyring(path, key_id_for(key), {key_id_for(key): key}, replace=False)
            log.info("vault.keyring_created", path=str(path), key_id=key_id_for(key))
    return _read_keyring(path)


def _aad(account: str, mode: str) -> bytes:
    return _AAD_PREFIX + account.encode() + b"|" + mode.encode()


def _encrypt(keyring: Keyring, account: str, mode: str, api_key_id: str, secret: str) -> tuple[bytes, bytes]:
    nonce = os.urandom(12)
    plaintext = json.dumps({"api_key_id": api_key_id, "secret": secret}).encode()
    return nonce, AESGCM(keyring.keys[keyring.current]).encrypt(nonce, plaintext, _aad(account, mode))


def _decrypt(keyring: Keyring, row: Mapping[str, object]) -> BrokerCredentials:
    account, mode, kid = str(row["account"]), str(row["mode"]), str(row["master_key_id"])
    key = keyring.keys.get(kid)
    if key is None:
        raise CredentialError(
            f"stored credentials for account {account} ({mode}) were encrypted with master key {kid}, "
            f"which this keyring does not have (keyring holds {sorted(keyring.keys)}): wrong master key"
        )
    try:
        blob = json.loads(AESGCM(key).decrypt(row["nonce"], row["ciphertext"], _aad(account, mode)))
    except (InvalidTag, ValueError):
        raise CredentialError(
            f"stored credentials for account {account} ({mode}) do not decrypt: wrong master key or tampered row"
        ) from None
    register_secret(blob["api_key_id"])
    register_secret(blob["secret"])
    return BrokerCredentials(account, mode, blob["api_key_id"], blob["secret"])


def _table(schema: str) -> str:
    return f'"{schema_for(schema)}".broker_credentials'


async def ensure_table(conn: asyncpg.Connection, schema: str) -> None:
    """Create the credentials table unless it is there (asked first: the operator's role may use it, not create)."""
    if await conn.fetchval("SELECT to_regclass($1)", _table(schema)) is not None:
        return
    if await conn.fetchval("SELECT to_regnamespace($1)", schema_for(schema)) is None:
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema_for(schema)}"')
    await conn.execute(
        f"""CREATE TABLE IF NOT EXISTS {_table(schema)} (
                account text NOT NULL CHECK (account <> ''),
                mode text NOT NULL CHECK (mode IN ('paper', 'live')),
                master_key_id text NOT NULL,
                nonce bytea NOT NULL CHECK (length(nonce) = 12),
                ciphertext bytea NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (account, mode))"""
    )


async def put_credentials(
    conn: asyncpg.Connection, schema: str, account: str, mode: str, api_key_id: str, secret: str, keyring: Keyring
) -> None:
    """Insert or replace the credentials of (account, mode), encrypted under the keyring's current key."""
    if mode not in MODES:
        raise ValueError(f"mode must be paper or live, got {mode!r}")
    if not account or not api_key_id or not secret:
        raise ValueError("account, API key id and secret must all be non-empty")
    register_secret(api_key_id)
    register_secret(secret)
    nonce, ciphertext = _encrypt(keyring, account, mode, api_key_id, secret)
    await conn.execute(
        f"""INSERT INTO {_table(schema)} (account, mode, master_key_id, nonce, ciphertext)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (account, mode) DO UPDATE SET master_key_id = EXCLUDED.master_key_id,
                nonce = EXCLUDED.nonce, ciphertext = EXCLUDED.ciphertext, updated_at = now()""",
        account, mode, keyring.current, nonce, ciphertext,
    )


async def get_credentials(
    conn: asyncpg.Connection, schema: str, account: str, mode: str, keyring: Keyring
) -> BrokerCredentials | None:
    row = await conn.fetchrow(
        f"SELECT account, mode, master_key_id, nonce, ciphertext FROM {_table(schema)} WHERE account = $1 AND mode = $2",
        account, mode,
    )
    return None if row is None else _decrypt(keyring, row)


async def list_credentials(conn: asyncpg.Connection, schema: str) -> list[StoredCredential]:
    rows = await conn.fetch(
        f"SELECT account, mode, created_at, updated_at, master_key_id FROM {_table(schema)} ORDER BY account, mode"
    )
    return [StoredCredential(*row) for row in rows]


@contextlib.contextmanager
def _rotation_lock(path: Path) -> Iterator[None]:
    """Two rotations at once would each drop the other's new key."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path.with_name(path.name + ".lock"), os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


async def rotate_master(conn: asyncpg.Connection, schema: str, keyring_path: Path) -> RotationReport:
    """New master key, every row re-encrypted under it, old keys dropped once no row needs them.

    Order matters for crash safety: (1) the new key is persisted next to the old ones, still not current;
    (2) all rows are re-encrypted in one transaction; (3) the keyring makes the new key current and keeps only
    keys some row still names. A crash after (1) or (2) leaves a keyring that decrypts every row.
    """
    if os.environ.get(ENV_MASTER_KEY):
        raise CredentialError(
            f"the master key comes from {ENV_MASTER_KEY}, which tradectl cannot rotate (it does not own where that "
            f"value is kept). Either replace it where it is kept and store the credentials again with "
            f"`tradectl keys set`, or unset {ENV_MASTER_KEY} and store them again so they use the keyring file "
            f"{keyring_path}, which rotate-master can rotate"
        )
    with _rotation_lock(keyring_path):
        old = load_keyring(keyring_path)
        new_key = AESGCM.generate_key(bit_length=256)
        new_id = key_id_for(new_key)
        _write_keyring(keyring_path, old.current, {**old.keys, new_id: new_key}, replace=True)  # (1)
        during = Keyring(new_id, {**old.keys, new_id: new_key}, keyring_path)
        async with conn.transaction():  # (2)
            # EXCLUSIVE blocks writers (keys set) but not readers (a running gateway) while rows change key.
            await conn.execute(f"LOCK TABLE {_table(schema)} IN EXCLUSIVE MODE")
            rows = await conn.fetch(f"SELECT account, mode, master_key_id, nonce, ciphertext FROM {_table(schema)}")
            for row in rows:
                creds = _decrypt(during, row)
                nonce, ciphertext = _encrypt(during, creds.account, creds.mode, creds.api_key_id, creds.secret)
                await conn.execute(
                    f"UPDATE {_table(schema)} SET master_key_id = $3, nonce = $4, ciphertext = $5 "
                    "WHERE account = $1 AND mode = $2",
                    creds.account, creds.mode, new_id, nonce, ciphertext,
                )
        needed = {r["master_key_id"] for r in await conn.fetch(f"SELECT DISTINCT master_key_id FROM {_table(schema)}")}
        kept = {kid: key for kid, key in during.keys.items() if kid == new_id or kid in needed}
        _write_keyring(keyring_path, new_id, kept, replace=True)  # (3)
    retired = tuple(sorted(set(old.keys) - set(kept)))
    log.info("vault.master_rotated", key_id=new_id, retired=list(retired), rows=len(rows))
    return RotationReport(new_id, retired, len(rows))
