"""Who may connect to the local stack's NATS and PostgreSQL, and their secrets: made once, kept under
``$TRADEBUS_HOME/secrets/`` (the directory 0700, every file 0600 from its creation; a copy others can read is refused).

* NATS: one nkey per service and one for the operator (``tradectl``), ``secrets/nats/<identity>.nk`` — the seed never
  crosses the wire (the server sends a challenge, the client signs it); the server's configuration holds only the
  public keys. The ``admin`` identity (provisioning, ``dlq replay``, the tests' break-glass) signs in with a password
  (``secrets/nats/admin.password``; the configuration holds its bcrypt hash, ``admin.bcrypt``).
* PostgreSQL: the superuser's password (``secrets/postgres/postgres.password``, used by ``tradectl up`` only to
  provision) and one login role per service and one for the operator, each in a password file of its own
  (``secrets/postgres/<role>.pgpass``, the libpq format asyncpg reads through ``PGPASSFILE``).

Each child of ``tradectl up`` is told where its own two files are and nothing else (plan.py); ``endpoints.json`` and
the logs hold no secret.
"""

from __future__ import annotations

import base64
import os
import secrets
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from urllib.parse import quote, urlsplit, urlunsplit

import bcrypt
import nkeys

from tradebus_contracts.permissions import ADMIN
from tradebus_contracts.services import OPERATOR, Service
from tradebus_runtime.db import schema_for

SECRETS_DIR = "secrets"
NATS_IDENTITIES: tuple[str, ...] = (*(s.value for s in Service), OPERATOR)  # with an nkey; the admin has a password
PG_SUPERUSER = "postgres"
AUDIT_OWNER = "audit_owner"  # owns the audit schema; nobody logs in as it (the recorder may only read and insert)


class SecretFileError(RuntimeError):
    """A secret file exists but others can read it: refuse rather than use a leaked secret."""


def pg_role(identity: str) -> str:
    """The PostgreSQL login role of a service (its schema's name: ``order-gateway`` → ``order_gateway``) or of the
    operator (``tradectl``)."""
    return OPERATOR if identity == OPERATOR else schema_for(identity)


PG_ROLES: tuple[str, ...] = tuple(pg_role(i) for i in NATS_IDENTITIES)


def secret_file(path: Path, make: Callable[[], str]) -> str:
    """The content of ``path``, written once with ``make()`` (0600 from the start, in a 0700 directory). A file others
    can read is refused (`SecretFileError`), as the master keyring is."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            raise SecretFileError(f"{path} can be read by others; `chmod 600 {path}` (or delete it to get a new "
                                  "secret)") from None
        return path.read_text().strip()
    value = make()
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    return value


def _password() -> str:
    return secrets.token_urlsafe(32)


def _nkey_seed() -> str:
    return nkeys.encode_seed(secrets.token_bytes(32), nkeys.PREFIX_BYTE_USER).decode()


@dataclass(frozen=True)
class StackIdentities:
    """The secrets of one home, loaded (and made where missing) by `ensure_identities`."""

    directory: Path
    nats_public_keys: Mapping[str, str]  # identity -> its public nkey (U...)
    admin_password: str = field(repr=False)  # never in a repr, a log line or a plan
    admin_bcrypt: str = field(repr=False)
    pg_superuser_password: str = field(repr=False)

    def seed_file(self, identity: str) -> Path:
        return nats_seed_path(self.directory, identity)

    def pgpass_file(self, role: str) -> Path:
        return self.directory / "postgres" / f"{role}.pgpass"

    @property
    def pg_superuser_password_file(self) -> Path:
        return self.directory / "postgres" / f"{PG_SUPERUSER}.password"

    def pg_password(self, role: str) -> str:
        line = self.pgpass_file(role).read_text().strip()
        return line.split(":", 4)[4]

    def admin_url(self, nats_url: str) -> str:
        """``nats_url`` with the admin's user and password in it (every server of a comma-separated list)."""
        return with_credentials(nats_url, ADMIN, self.admin_password)


def nats_seed_path(secrets_dir: Path, identity: str) -> Path:
    return secrets_dir / "nats" / f"{identity}.nk"


def secrets_dir(home: Path) -> Path:
    return home / SECRETS_DIR


def ensure_identities(home: Path) -> StackIdentities:
    """Load the home's identities, making (once) whatever is missing."""
    directory = secrets_dir(home)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    public = {}
    for identity in NATS_IDENTITIES:
        seed = secret_file(nats_seed_path(directory, identity), _nkey_seed)
        public[identity] = nkeys.from_seed(bytearray(seed.encode())).public_key.decode()
    admin_password = secret_file(directory / "nats" / f"{ADMIN}.password", _password)
    admin_bcrypt = secret_file(directory / "nats" / f"{ADMIN}.bcrypt",
                               lambda: bcrypt.hashpw(admin_password.encode(), bcrypt.gensalt(11)).decode())
    if not bcrypt.checkpw(admin_password.encode(), admin_bcrypt.encode()):
        raise SecretFileError(f"{directory / 'nats'}: admin.bcrypt is not the hash of admin.password; delete "
                              "admin.bcrypt to make it again")
    superuser = secret_file(directory / "postgres" / f"{PG_SUPERUSER}.password", _password)
    for role in PG_ROLES:
        secret_file(directory / "postgres" / f"{role}.pgpass", lambda role=role: f"*:*:*:{role}:{_password()}")
    return StackIdentities(directory, MappingProxyType(public), admin_password, admin_bcrypt, superuser)


def with_credentials(url: str, user: str, password: str) -> str:
    """``nats://h:p[,nats://h2:p2]`` → the same servers with ``user:password@`` (percent-encoded)."""
    def one(server: str) -> str:
        parts = urlsplit(server.strip())
        netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{parts.hostname}"
        if parts.port:
            netloc += f":{parts.port}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))

    return ",".join(one(s) for s in url.split(","))


def scram_verifier(password: str, *, salt: bytes | None = None, iterations: int = 4096) -> str:
    """PostgreSQL's SCRAM-SHA-256 verifier of ``password`` (what ``CREATE ROLE ... PASSWORD`` stores), so a
    provisioning script can set a password without holding it in plain text (docker-compose's init script)."""
    import hashlib
    import hmac

    salt = salt if salt is not None else secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = base64.b64encode
    return (f"SCRAM-SHA-256${iterations}:{b64(salt).decode()}"
            f"${b64(stored_key).decode()}:{b64(server_key).decode()}")
