import asyncio
import sys
import textwrap

import asyncpg
import pytest

from tradebus_runtime.db import MigrationError, load_migrations, migrate, open_database, schema_for
from tradebus_runtime.inbox import ensure_inbox
from tradebus_runtime.outbox import ensure_outbox

pytestmark = pytest.mark.integration


@pytest.fixture
def migrations_pkg(tmp_path, monkeypatch):
    """A throw-away package with a migrations folder; returns (package name, folder)."""
    name = f"pkg_{tmp_path.name.replace('-', '_')}"
    folder = tmp_path / name / "migrations"
    folder.mkdir(parents=True)
    (tmp_path / name / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name, folder
    sys.modules.pop(name, None)


def write(folder, filename, sql):
    (folder / filename).write_text(textwrap.dedent(sql))


def test_schema_for_when_service_has_dashes_then_schema_uses_underscores():
    assert schema_for("order-gateway") == "order_gateway"


def test_load_when_numbers_have_a_gap_then_refused(migrations_pkg):
    name, folder = migrations_pkg
    write(folder, "0001_a.sql", "SELECT 1;")
    write(folder, "0003_c.sql", "SELECT 1;")

    with pytest.raises(MigrationError, match="without gaps"):
        load_migrations(name)


def test_load_when_file_is_badly_named_then_refused(migrations_pkg):
    name, folder = migrations_pkg
    write(folder, "1_a.sql", "SELECT 1;")

    with pytest.raises(MigrationError, match="NNNN_lower_snake"):
        load_migrations(name)


async def test_migrate_when_run_twice_then_each_file_applies_once_in_order(database_url, migrations_pkg):
    name, folder = migrations_pkg
    write(folder, "0001_create.sql", "CREATE TABLE things (id int PRIMARY KEY, label text);")
    write(folder, "0002_seed.sql", "INSERT INTO things VALUES (1, 'one');")

    pool = await open_database(database_url, "svc-a", name)
    again = await open_database(database_url, "svc-a", name)
    try:
        rows = await pool.fetch("SELECT id, label FROM things")
        versions = await pool.fetch("SELECT version FROM schema_migrations ORDER BY version")
        schema = await pool.fetchval("SELECT current_schema()")
    finally:
        await pool.close()
        await again.close()

    assert [tuple(r) for r in rows] == [(1, "one")]
    assert [r["version"] for r in versions] == [1, 2]
    assert schema == "svc_a"


async def test_migrate_when_applied_file_was_edited_then_refused(database_url, migrations_pkg):
    name, folder = migrations_pkg
    write(folder, "0001_create.sql", "CREATE TABLE things (id int);")
    pool = await open_database(database_url, "svc-b", name)
    await pool.close()
    write(folder, "0001_create.sql", "CREATE TABLE things (id bigint);")

    conn = await asyncpg.connect(database_url)
    try:
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await migrate(conn, "svc_b", load_migrations(name))
    finally:
        await conn.close()


async def test_migrate_when_a_file_fails_then_nothing_of_it_is_applied(database_url, migrations_pkg):
    name, folder = migrations_pkg
    write(folder, "0001_create.sql", "CREATE TABLE ok_table (id int);")
    write(folder, "0002_broken.sql", "CREATE TABLE half (id int); SELECT * FROM no_such_table;")

    with pytest.raises(asyncpg.UndefinedTableError):
        await open_database(database_url, "svc-c", name)

    conn = await asyncpg.connect(database_url)
    try:
        tables = {r["table_name"] for r in await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'svc_c'")}
    finally:
        await conn.close()
    assert "half" not in tables


async def test_start_up_ddl_when_two_replicas_start_together_on_a_fresh_database_then_neither_fails(
        database_url, migrations_pkg):
    """What every service does at start (its migrations, then the inbox and outbox tables), by two replicas at once
    on schemas that do not exist yet, several times over: CREATE ... IF NOT EXISTS alone let the second fail with
    "type ... already exists" (seen in the chaos suite's first start of two gateways)."""
    name, folder = migrations_pkg
    write(folder, "0001_create.sql", "CREATE TABLE things (id int PRIMARY KEY);")

    async def start(service: str) -> None:
        pool = await open_database(database_url, service, name)
        try:
            async with pool.acquire() as conn:
                await ensure_inbox(conn)
                await ensure_outbox(conn)
        finally:
            await pool.close()

    for attempt in range(8):
        service = f"svc-race-{attempt}"
        await asyncio.gather(start(service), start(service))

    check = await asyncpg.connect(database_url)
    try:
        tables = await check.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname LIKE 'svc_race_%'")
    finally:
        await check.close()
    assert tables == 8 * 4  # schema_migrations, things, inbox, outbox in each
