"""Provisioning: what exists before any service starts, made by the identities allowed to make it.

NATS, as ``admin``: every stream of the contract (created, or brought to its definition; ``replicas`` copies in a
cluster), every durable consumer of `tradebus_contracts.consumers.DURABLES`, and the KV buckets. The services' own
identities may only bind to these (DESIGN §5.8).

PostgreSQL, as the superuser: one login role per service and one for the operator (``tradectl``), each with its
password; one schema per service, owned by its role, and nothing else for it — except the audit schema, which is
owned by ``audit_owner`` (nobody logs in as it) and migrated here: the recorder's role may read and insert into the
trail and nothing more, the operator's may read it. The operator's role may also read and write the broker
credentials table in the gateway's schema (``tradectl keys``). Objects an older stack made as the superuser are
handed to their schema's owner. Every statement is idempotent: it runs at each ``tradectl up``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from urllib.parse import urlsplit

import asyncpg
import nats
from nats.js import JetStreamContext

from tradebus_contracts.consumers import DURABLES
from tradebus_contracts.refdata import REFDATA_BUCKET, REFDATA_DESCRIPTION
from tradebus_contracts.services import OPERATOR, Service
from tradebus_runtime import vault
from tradebus_runtime.bus import ConsumerSpec, ensure_consumers, ensure_kv, ensure_streams
from tradebus_runtime.db import load_migrations, migrate, schema_for
from tradebus_runtime.identity import nats_servers
from tradebus_runtime.inbox import ensure_inbox
from tradebus_runtime.outbox import ensure_outbox

from .credentials import SCHEMA as CREDENTIALS_SCHEMA
from .dlq import REPLAYS_BUCKET
from .identities import AUDIT_OWNER, PG_ROLES, pg_role

AUDIT_SCHEMA = schema_for(Service.AUDIT_RECORDER)


class ProvisionError(RuntimeError):
    """Provisioning cannot go on; the message says what is missing."""

AUDIT_TABLES = ("events", "stream_identity")


async def jetstream_ready(js: JetStreamContext, timeout_s: float = 60.0) -> None:
    """Return once JetStream answers. A cluster's servers listen a second or two before they have elected the leader
    that answers JetStream requests; provisioning before that times out. Raises the last error past ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            await js.account_info()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def provision_nats(js: JetStreamContext, *, replicas: int = 1) -> None:
    await ensure_streams(js, update=True, replicas=replicas)
    await ensure_consumers(js, [ConsumerSpec.of(d) for d in DURABLES])
    await ensure_kv(js, REFDATA_BUCKET, REFDATA_DESCRIPTION, replicas=replicas)
    await ensure_kv(js, REPLAYS_BUCKET, "dead letters replayed by tradectl dlq replay, by DLQ sequence",
                    replicas=replicas)


async def provision_postgres(conn: asyncpg.Connection, database: str, passwords: Mapping[str, str] | None) -> None:
    """Run as the superuser, connected to ``database``. ``passwords``: each login role's (``tradectl up``); None when
    the roles were made with theirs already (docker-compose's init script) and stay as they are."""
    for role in PG_ROLES:
        if passwords is not None:
            await _login_role(conn, role, passwords[role])
        elif not await conn.fetchval("SELECT true FROM pg_roles WHERE rolname = $1", role):
            raise ProvisionError(f"PostgreSQL has no role {role!r}: the init script (deploy/postgres/init, run on the "
                                 "database's first start) did not run; see `tradectl deploy init`")
        await conn.execute(f'GRANT CONNECT ON DATABASE "{database}" TO "{role}"')
    await _role(conn, AUDIT_OWNER)
    await conn.execute(f'REVOKE ALL ON DATABASE "{database}" FROM PUBLIC')
    await conn.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
    for service in Service:
        schema = schema_for(service)
        await _own_schema(conn, schema, AUDIT_OWNER if schema == AUDIT_SCHEMA else pg_role(service))
    await _audit_schema(conn)
    await _credentials_table(conn)


async def _role(conn: asyncpg.Connection, role: str) -> None:
    if not await conn.fetchval("SELECT true FROM pg_roles WHERE rolname = $1", role):
        await conn.execute(f'CREATE ROLE "{role}" NOLOGIN')


async def _login_role(conn: asyncpg.Connection, role: str, password: str) -> None:
    await _role(conn, role)
    # the password as a literal, quoted by the server (DDL takes no parameters); never logged
    statement = await conn.fetchval("SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', $1::text, $2::text)",
                                    role, password)
    await conn.execute(statement)


async def _own_schema(conn: asyncpg.Connection, schema: str, owner: str) -> None:
    await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}" AUTHORIZATION "{owner}"')
    await conn.execute(f'ALTER SCHEMA "{schema}" OWNER TO "{owner}"')
    # what an older stack (one superuser for everything) made in the schema goes to its owner: tables first (their
    # own sequences follow them), then the sequences and functions left
    await conn.execute(_handover(schema, owner, "c.relkind IN ('r', 'p', 'v', 'm')", "TABLE"))
    await conn.execute(_handover(schema, owner, "c.relkind = 'S'", "SEQUENCE"))
    await conn.execute(f"""DO $$ DECLARE f record; BEGIN
        FOR f IN SELECT p.proname, pg_get_function_identity_arguments(p.oid) AS args FROM pg_proc p
                 JOIN pg_namespace n ON n.oid = p.pronamespace
                 WHERE n.nspname = '{schema}' AND pg_get_userbyid(p.proowner) <> '{owner}' LOOP
            EXECUTE format('ALTER FUNCTION %I.%I(%s) OWNER TO %I', '{schema}', f.proname, f.args, '{owner}');
        END LOOP; END $$""")


def _handover(schema: str, owner: str, kinds: str, word: str) -> str:
    return f"""DO $$ DECLARE r record; BEGIN
        FOR r IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = '{schema}' AND {kinds} AND pg_get_userbyid(c.relowner) <> '{owner}' LOOP
            EXECUTE format('ALTER {word} %I.%I OWNER TO %I', '{schema}', r.relname, '{owner}');
        END LOOP; END $$"""


async def _audit_schema(conn: asyncpg.Connection) -> None:
    """The trail's tables, made by their owner; the recorder may read and insert, the operator read."""
    recorder, operator = pg_role(Service.AUDIT_RECORDER), pg_role(OPERATOR)
    async with conn.transaction():
        await conn.execute(f'SET LOCAL ROLE "{AUDIT_OWNER}"')
        await conn.execute(f'SET LOCAL search_path TO "{AUDIT_SCHEMA}"')
        await migrate(conn, AUDIT_SCHEMA, load_migrations("audit_recorder"))
        await ensure_inbox(conn)
        await ensure_outbox(conn)
    trail = ", ".join(f'"{AUDIT_SCHEMA}".{t}' for t in AUDIT_TABLES)
    await conn.execute(f'GRANT USAGE ON SCHEMA "{AUDIT_SCHEMA}" TO "{recorder}", "{operator}"')
    await conn.execute(f'REVOKE ALL ON {trail} FROM "{recorder}", "{operator}"')
    await conn.execute(f'GRANT SELECT, INSERT ON {trail} TO "{recorder}"')
    await conn.execute(f'GRANT SELECT ON {trail} TO "{operator}"')
    await conn.execute(f'GRANT SELECT ON "{AUDIT_SCHEMA}".schema_migrations TO "{recorder}"')
    await conn.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON "{AUDIT_SCHEMA}".inbox, "{AUDIT_SCHEMA}".outbox '
                       f'TO "{recorder}"')


async def _credentials_table(conn: asyncpg.Connection) -> None:
    """The broker credentials table, the gateway's; the operator stores and rotates them (``tradectl keys``)."""
    gateway, operator = pg_role(Service.GATEWAY), pg_role(OPERATOR)
    async with conn.transaction():
        await conn.execute(f'SET LOCAL ROLE "{gateway}"')
        await vault.ensure_table(conn, CREDENTIALS_SCHEMA)
    await conn.execute(f'GRANT USAGE ON SCHEMA "{CREDENTIALS_SCHEMA}" TO "{operator}"')
    await conn.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON "{CREDENTIALS_SCHEMA}".broker_credentials '
                       f'TO "{operator}"')


async def provision(nats_url: str, database_url: str, *, replicas: int = 1,
                    postgres_password: str | None = None) -> None:
    """Everything, for a deployment whose roles exist already (``tradectl provision``, the compose job)."""
    nc = await nats.connect(nats_servers(nats_url), connect_timeout=10, max_reconnect_attempts=5)
    try:
        await provision_nats(nc.jetstream(), replicas=replicas)
    finally:
        await nc.drain()
    conn = await asyncpg.connect(database_url, password=postgres_password)
    try:
        await provision_postgres(conn, urlsplit(database_url).path.lstrip("/"), None)
    finally:
        await conn.close()
