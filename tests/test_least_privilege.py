"""Least privilege (DESIGN §5.8), tried against the stack as `tradectl up` runs it: every service's own NATS identity
and PostgreSQL role attempts what it must not do, and every attempt is refused; the flows it must do still work.

A refused NATS attempt is seen twice: the client is told ``permissions violation`` for that subject, and the effect
is absent (the stream is still there, no consumer appeared, nothing was stored)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import stat
import tempfile
import urllib.error
import urllib.request
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import nats
import nats.js.errors
import psutil
import pytest
from nats.js import api

from tradebus_contracts.permissions import inbox_prefix
from tradebus_contracts.services import OPERATOR, Service
from tradebus_runtime.identity import identity_options
from tradectl.identities import NATS_IDENTITIES, PG_ROLES, pg_role, secrets_dir
from tradectl.testing import running_stack, stack_endpoints, wait_for_reference_data

pytestmark = pytest.mark.integration

SERVICES = tuple(s.value for s in Service)
REFUSED_WAIT_S = 0.2  # a refused JetStream API request gets no answer: it times out after this


@pytest.fixture(scope="module")
def stack():
    base = Path(tempfile.mkdtemp(prefix="tradebus-privilege-"))
    home = base / "home"
    try:
        with running_stack(home) as (proc, _):
            yield {**stack_endpoints(home), "home": home, "plain": json.loads((home / "endpoints.json").read_text()),
                   "proc": proc}
    finally:
        shutil.rmtree(base, ignore_errors=True)


class Identity:
    """A NATS connection as one identity, with every error the server sent it."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def refused(self, subject: str) -> bool:
        return any("permissions violation" in e and subject.lower() in e.lower() for e in self.errors)


@asynccontextmanager
async def connected(stack, identity: str):
    seen = Identity()

    async def on_error(exc: Exception) -> None:
        seen.errors.append(str(exc))

    seed = secrets_dir(stack["home"]) / "nats" / f"{identity}.nk"
    nc = await nats.connect(stack["plain"]["nats_url"], error_cb=on_error, max_reconnect_attempts=0,
                            **identity_options(identity, seed))
    try:
        yield nc, seen
    finally:
        await nc.close()


async def admin(stack):
    return await nats.connect(stack["nats_url"])


async def refused_publish(nc, seen: Identity, subject: str) -> bool:
    await nc.publish(subject, b"{}")
    await nc.flush()
    for _ in range(20):
        if seen.refused(subject):
            return True
        await asyncio.sleep(0.05)
    return False


async def refused_request(seen: Identity, subject: str, attempt) -> bool:
    """The JetStream API call gets no answer and the client is told it may not publish there."""
    try:
        await attempt
    except Exception:  # a timeout (no answer to a refused request), or an error answer
        pass
    else:
        return False
    return seen.refused(subject)


async def stored_count(stack, subject: str) -> int:
    nc = await admin(stack)
    try:
        info = await nc.jetstream().stream_info("RISK" if subject.startswith("risk.") else
                                                "CONTROL" if subject.startswith("control.") else "FILLS",
                                                subjects_filter=subject)
        return (info.state.subjects or {}).get(subject, 0)
    finally:
        await nc.close()


FORGED = {  # subject -> the only identity allowed to publish it
    "risk.approved.FORGE": Service.RISK.value,
    "fills.FORGE": Service.GATEWAY.value,
    "control.trading_state": OPERATOR,
}


@pytest.mark.parametrize("identity", NATS_IDENTITIES)
async def test_nats_when_an_identity_forges_another_producers_event_then_it_is_refused_and_nothing_is_stored(
        stack, identity):
    async with connected(stack, identity) as (nc, seen):
        for subject, producer in FORGED.items():
            if identity == producer:
                continue
            assert await refused_publish(nc, seen, subject), f"{identity} could publish {subject}: {seen.errors}"
    for subject in ("risk.approved.FORGE", "fills.FORGE"):
        assert await stored_count(stack, subject) == 0


@pytest.mark.parametrize("identity", NATS_IDENTITIES)
async def test_nats_when_an_identity_deletes_purges_or_creates_then_it_is_refused_and_nothing_changes(stack, identity):
    async with connected(stack, identity) as (nc, seen):
        js = nc.jetstream(timeout=REFUSED_WAIT_S)
        attempts = [
            ("$JS.API.STREAM.DELETE.AUDIT", lambda: js.delete_stream("AUDIT")),
            ("$JS.API.STREAM.DELETE.ORDERS", lambda: js.delete_stream("ORDERS")),
            ("$JS.API.STREAM.PURGE.RISK", lambda: js.purge_stream("RISK")),
            ("$JS.API.CONSUMER.DURABLE.CREATE.RISK.thief", lambda: js.add_consumer("RISK", durable_name="thief")),
            ("$JS.API.CONSUMER.CREATE.ORDERS.thief",
             lambda: js.add_consumer("ORDERS", api.ConsumerConfig(name="thief", durable_name="thief"))),
            ("$JS.API.STREAM.CREATE.ROGUE", lambda: js.add_stream(name="ROGUE", subjects=["rogue.>"])),
        ]
        for subject, attempt in attempts:
            assert await refused_request(seen, subject, attempt()), f"{identity}: {subject} was not refused"
    nc = await admin(stack)
    try:
        js = nc.jetstream()
        streams = {s.config.name for s in await js.streams_info()}
        assert {"AUDIT", "ORDERS", "RISK"} <= streams and "ROGUE" not in streams
        consumers = {c.name for stream in ("RISK", "ORDERS") for c in await js.consumers_info(stream)}
        assert "thief" not in consumers
    finally:
        await nc.close()


async def signed_checkpoints(stack) -> tuple[int, int]:
    """AUDIT_CHECKPOINTS' (first sequence, count) once the recorder has signed at least one: it signs within 10 s of
    the trail growing, so an order is placed first if there is none yet."""
    nc = await admin(stack)
    try:
        if not (await nc.jetstream().stream_info("AUDIT_CHECKPOINTS")).state.messages:
            await place_order(stack)
        for _ in range(300):
            state = (await nc.jetstream().stream_info("AUDIT_CHECKPOINTS")).state
            if state.messages:
                return state.first_seq, state.messages
            await asyncio.sleep(0.1)
    finally:
        await nc.close()
    raise AssertionError("no signed checkpoint within 30 s")


@pytest.mark.parametrize("identity", NATS_IDENTITIES)
async def test_nats_when_an_identity_deletes_or_purges_a_signed_checkpoint_then_it_is_refused_and_all_are_kept(
        stack, identity):
    before = await signed_checkpoints(stack)
    async with connected(stack, identity) as (nc, seen):
        js = nc.jetstream(timeout=REFUSED_WAIT_S)
        attempts = [
            # nats-py's delete_msg waits 5 s whatever the context's timeout: the same request, bounded
            ("$JS.API.STREAM.MSG.DELETE.AUDIT_CHECKPOINTS",
             lambda: nc.request("$JS.API.STREAM.MSG.DELETE.AUDIT_CHECKPOINTS",
                                json.dumps({"seq": before[0]}).encode(), timeout=REFUSED_WAIT_S)),
            ("$JS.API.STREAM.PURGE.AUDIT_CHECKPOINTS", lambda: js.purge_stream("AUDIT_CHECKPOINTS")),
        ]
        for subject, attempt in attempts:
            assert await refused_request(seen, subject, attempt()), f"{identity}: {subject} was not refused"
    first_seq, count = await signed_checkpoints(stack)
    assert first_seq == before[0] and count >= before[1]


async def test_nats_when_even_the_admin_deletes_or_purges_a_signed_checkpoint_then_the_stream_refuses_it(stack):
    before = await signed_checkpoints(stack)
    nc = await admin(stack)  # the break-glass identity: NATS lets it ask, the stream's deny_delete/deny_purge refuse
    try:
        js = nc.jetstream()
        with pytest.raises(nats.js.errors.APIError) as deleting:
            await js.delete_msg("AUDIT_CHECKPOINTS", before[0])
        with pytest.raises(nats.js.errors.APIError) as purging:
            await js.purge_stream("AUDIT_CHECKPOINTS")
    finally:
        await nc.close()

    assert (deleting.value.err_code, purging.value.err_code) == (10057, 10110)  # message delete / purge denied
    first_seq, count = await signed_checkpoints(stack)
    assert first_seq == before[0] and count >= before[1]


@pytest.mark.parametrize("identity", SERVICES)
async def test_nats_when_a_service_reads_another_services_inbox_or_durable_then_it_is_refused(stack, identity):
    victim = Service.GATEWAY.value if identity != Service.GATEWAY else Service.RISK.value
    durable = ("RISK", Service.GATEWAY.value) if identity != Service.GATEWAY else ("ORDERS", Service.RISK.value)
    async with connected(stack, identity) as (nc, seen):
        await nc.subscribe(f"{inbox_prefix(victim)}.>")
        await nc.flush()
        next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{durable[0]}.{durable[1]}"
        await nc.publish(next_subject, b'{"batch": 1}', reply=f"{inbox_prefix(identity)}.stolen")
        await nc.flush()
        await asyncio.sleep(0.3)
        assert any("subscription" in e and inbox_prefix(victim).lower() in e.lower() for e in seen.errors), seen.errors
        assert seen.refused(next_subject), seen.errors


async def test_nats_when_nobody_signs_in_then_the_server_refuses_the_connection(stack):
    with pytest.raises(Exception):
        await nats.connect(stack["plain"]["nats_url"], max_reconnect_attempts=0, connect_timeout=2,
                           allow_reconnect=False)


async def place_order(stack) -> str:
    """A market buy of 2 AAPL through the ticket, as a user places one; its order id."""
    await wait_for_reference_data(stack["nats_url"])
    body = json.dumps({"symbol": "AAPL", "side": "buy", "type": "market", "time_in_force": "day", "qty": "2"})
    request = urllib.request.Request(f"{stack['ticket_url']}/api/orders", data=body.encode(), method="POST",
                                     headers={"content-type": "application/json"})
    return json.loads(await asyncio.to_thread(lambda: urllib.request.urlopen(request, timeout=10).read()))["order_id"]


async def test_nats_when_the_services_use_their_own_identities_then_an_order_flows_end_to_end(stack):
    order_id = await place_order(stack)
    order: dict = {}
    for _ in range(100):
        try:
            with urllib.request.urlopen(f"{stack['ticket_url']}/api/orders/{order_id}", timeout=10) as reply:
                order = json.loads(reply.read())
        except urllib.error.HTTPError as exc:  # 404 until the ticket's read model has taken in the request
            if exc.code != 404:
                raise
        if order.get("status") == "filled":
            break
        await asyncio.sleep(0.2)
    assert order["status"] == "filled", order
    types = [step["event_type"] for step in order["timeline"]]
    assert types[:3] == ["OrderRequested", "RiskApproved", "OrderSubmitted"] and "FillReported" in types


# --- PostgreSQL -------------------------------------------------------------------------------------------------

async def pg_as(stack, role: str) -> asyncpg.Connection:
    url = stack["plain"]["database_url"].replace(f"{pg_role(OPERATOR)}@", f"{role}@")
    return await asyncpg.connect(url, passfile=str(secrets_dir(stack["home"]) / "postgres" / f"{role}.pgpass"))


@pytest.mark.parametrize("role", [r for r in PG_ROLES if r != pg_role(OPERATOR)])
async def test_postgres_when_a_service_reads_another_services_schema_then_it_is_refused(stack, role):
    conn = await pg_as(stack, role)
    try:
        assert await conn.fetchval("SELECT count(*) >= 0 FROM inbox")  # its own: fine
        for other in (r for r in PG_ROLES if r not in (role, pg_role(OPERATOR))):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.fetchval(f'SELECT count(*) FROM "{other}".inbox')
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute('CREATE SCHEMA rogue')
    finally:
        await conn.close()


@pytest.mark.parametrize("role", [pg_role(Service.AUDIT_RECORDER), pg_role(OPERATOR)])
async def test_postgres_when_the_recorder_or_the_operator_changes_an_audit_row_then_it_is_refused(stack, role):
    conn = await pg_as(stack, role)
    try:
        assert await conn.fetchval("SELECT count(*) FROM audit_recorder.events") > 0  # reading is allowed
        for statement in ("UPDATE audit_recorder.events SET subject = 'x' WHERE seq = 1",
                          "DELETE FROM audit_recorder.events WHERE seq = 1",
                          "TRUNCATE audit_recorder.events",
                          "DROP TABLE audit_recorder.events",
                          "ALTER TABLE audit_recorder.events DISABLE TRIGGER ALL"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(statement)
    finally:
        await conn.close()


async def test_postgres_when_someone_connects_without_a_password_then_it_is_refused(stack):
    url = stack["plain"]["database_url"].replace(f"{pg_role(OPERATOR)}@", "postgres@")
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(url, passfile="/nonexistent")


# --- what each process and file holds ---------------------------------------------------------------------------

def test_secrets_when_made_then_only_their_owner_can_read_them_and_endpoints_hold_none(stack):
    directory = secrets_dir(stack["home"])
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    files = [p for p in directory.rglob("*") if p.is_file()]
    assert len(files) >= len(NATS_IDENTITIES) + len(PG_ROLES) + 2
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files)
    endpoints = (stack["home"] / "endpoints.json").read_text()
    logs = "".join(p.read_text(errors="replace") for p in (stack["home"] / "logs").glob("*.log"))
    for path in directory.rglob("*.pgpass"):
        password = path.read_text().strip().rsplit(":", 1)[1]
        assert password not in endpoints and password not in logs
    admin_password = (directory / "nats" / "admin.password").read_text().strip()
    assert admin_password not in endpoints and admin_password not in logs
    assert "SU" not in endpoints  # no nkey seed


def test_children_when_started_then_each_holds_only_its_own_identity(stack):
    children = {p.name(): p for p in psutil.Process(stack["proc"].pid).children(recursive=True)}
    directory = secrets_dir(stack["home"])
    checked = 0
    for process in children.values():
        cmd = " ".join(process.cmdline())
        service = next((s for s in SERVICES if cmd.endswith(f"/{s}") or f"/{s} " in cmd), None)
        if service is None:
            continue
        env = process.environ()
        assert env["NATS_NKEY_SEED_FILE"] == str(directory / "nats" / f"{service}.nk")
        assert env["PGPASSFILE"] == str(directory / "postgres" / f"{pg_role(service)}.pgpass")
        assert env["DATABASE_URL"].startswith(f"postgresql://{pg_role(service)}@")
        assert "PGPASSWORD" not in env
        assert ("TRADEBUS_MASTER_KEY" in env) == (service == Service.GATEWAY and "TRADEBUS_MASTER_KEY" in os.environ)
        checked += 1
    assert checked == len(SERVICES)
