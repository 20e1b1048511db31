"""PostgreSQL: one asyncpg pool per service, its own schema, and ordered SQL migrations.

Each service owns one PostgreSQL schema (named after the service) in the shared database and never reads
another service's tables. Migrations are plain SQL files shipped inside the service's package, in a
``migrations`` folder, named ``NNNN_description.sql`` and applied in numeric order in one transaction (all or
nothing), under an advisory lock so that two starting replicas cannot apply the same file twice.
A migration that was applied and later edited is refused (checksum mismatch): history is not rewritten.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from importlib import resources

import asyncpg

from .logging import get_logger

log = get_logger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_SCHEMA_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class MigrationError(RuntimeError):
    """The migrations on disk do not agree with what the database has applied."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def schema_for(service: str) -> str:
    """The schema a service owns: its name with dashes as underscores (``order-gateway`` -> ``order_gateway``)."""
    schema = service.replace("-", "_")
    if not _SCHEMA_NAME.match(schema):
        raise ValueError(f"service name {service!r} does not make a valid schema name")
    return schema


def load_migrations(package: str) -> list[Migration]:
    """Read ``<package>/migrations/NNNN_name.sql`` in version order; a gap or duplicate number is an error."""
    folder = resources.files(package) / "migrations"
    found: list[Migration] = []
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _MIGRATION_NAME.match(entry.name)
        if match is None:
            raise MigrationError(f"{package}: migration file {entry.name!r} is not named NNNN_lower_snake.sql")
        found.append(Migration(int(match.group(1)), match.group(2), entry.read_text()))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise MigrationError(f"{package}: migrations must be numbered 1..n without gaps; found {migration.version}")
    return found


@contextlib.asynccontextmanager
async def schema_ddl(conn: asyncpg.Connection, schema: str | None = None) -> AsyncIterator[None]:
    """A transaction holding the DDL lock of ``schema`` (None: the connection's current schema), for creating and
    migrating what is in it: replicas starting together on a fresh database then create each object once.
    ``CREATE ... IF NOT EXISTS`` alone is not enough — two at once both pass the check, and the second fails on the
    catalog's unique index ("type ... already exists"); under the lock the second finds the first's and skips it."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('tradebus-migrate:' || "
                           "coalesce($1::text, current_schema())))", schema)
        yield


async def migrate(conn: asyncpg.Connection, schema: str, migrations: list[Migration]) -> list[int]:
    """Apply the migrations not yet applied to ``schema``; returns the versions applied now."""
    # Create only what is missing, asked of the catalog first: a role that may not create (the audit recorder's,
    # whose schema provisioning owns and migrates) must get through here when everything is already in place.
    if await conn.fetchval("SELECT to_regclass($1)", f'"{schema}".schema_migrations') is None:
        async with schema_ddl(conn, schema):
            if await conn.fetchval("SELECT to_regnamespace($1)", schema) is None:
                await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            await conn.execute(
                f"""CREATE TABLE IF NOT EXISTS "{schema}".schema_migrations (
                        version integer PRIMARY KEY,
                        name text NOT NULL,
                        checksum text NOT NULL,
                        applied_at timestamptz NOT NULL DEFAULT now())"""
            )
    applied_now: list[int] = []
    async with schema_ddl(conn, schema):
        rows = await conn.fetch(f'SELECT version, name, checksum FROM "{schema}".schema_migrations')
        applied = {r["version"]: r for r in rows}
        known = {m.version for m in migrations}
        unknown = sorted(set(applied) - known)
        if unknown:
            raise MigrationError(f"schema {schema} has migrations {unknown} that this code does not know (newer code ran?)")
        for migration in migrations:
            row = applied.get(migration.version)
            if row is not None:
                if row["checksum"] != migration.checksum:
                    raise MigrationError(
                        f"schema {schema}: migration {migration.version:04d}_{migration.name} changed after it was applied"
                    )
                continue
            await conn.execute(f'SET LOCAL search_path TO "{schema}", public')
            await conn.execute(migration.sql)
            await conn.execute(
                f'INSERT INTO "{schema}".schema_migrations (version, name, checksum) VALUES ($1, $2, $3)',
                migration.version,
                migration.name,
                migration.checksum,
            )
            applied_now.append(migration.version)
            log.info("db.migration_applied", schema=schema, version=migration.version, name=migration.name)
    return applied_now


async def create_pool(dsn: str, schema: str, *, min_size: int = 1, max_size: int = 5) -> asyncpg.Pool:
    """A pool whose connections see ``schema`` first on their search_path.

    A connection goes back to the pool without asyncpg's reset query (``pg_advisory_unlock_all(); CLOSE ALL;
    UNLISTEN *; RESET ALL``): a round trip on every release, several per order on the submit path. Nothing here
    keeps session state on a pooled connection — settings are ``SET LOCAL``, cursors live in transactions, nobody
    LISTENs, and the one session advisory lock (the gateway's broker lease) is unlocked by its holder, which
    terminates the connection when it cannot. asyncpg still rolls back a transaction left open."""
    return await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        server_settings={"search_path": f'"{schema}",public', "application_name": schema},
        command_timeout=30,
        reset=_no_session_state,
    )


async def _no_session_state(conn: asyncpg.Connection) -> None:
    """The pool's reset: nothing to undo (see `create_pool`)."""


async def open_database(dsn: str, service: str, migrations_package: str | None, *,
                        max_size: int = 5) -> asyncpg.Pool:
    """Create the service's pool (at most ``max_size`` connections) and bring its schema up to date."""
    schema = schema_for(service)
    pool = await create_pool(dsn, schema, max_size=max_size)
    migrations = load_migrations(migrations_package) if migrations_package else []
    async with pool.acquire() as conn:
        await migrate(conn, schema, migrations)
    return pool
