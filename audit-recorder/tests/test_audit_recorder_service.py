"""audit-recorder as a real process against real NATS and PostgreSQL: every message once, across kill -9; an
append-only table; signed checkpoints; refusals when the stream cannot be trusted."""

from __future__ import annotations

import asyncio
import signal

import asyncpg
import nats
import pytest
from nats.js import api

from audit_recorder.app import StreamUnprotected, check_protection
from audit_recorder.checkpoints import checkpoint_file
from audit_recorder.testing import RecorderProcess, declared_streams, order_story, publish, wait_recorded
from tradebus_contracts import decode
from tradebus_contracts.audit import verify_checkpoint
from tradebus_contracts.events import AuditCheckpoint
from tradebus_contracts.signing import public_key_from_b64
from tradectl.audit_verify import VerifyOptions, verify

pytestmark = pytest.mark.integration


@pytest.fixture
async def streams(nats_url):
    async with declared_streams(nats_url) as js:
        yield js


@pytest.fixture
def recorder(nats_url, database_url, tmp_path, streams):
    process = RecorderProcess(nats_url, database_url, tmp_path / "home", AUDIT_BATCH="50")
    yield process
    process.stop(signal.SIGKILL)


async def table_seqs(database_url):
    conn = await asyncpg.connect(database_url)
    try:
        return [r["seq"] for r in await conn.fetch("SELECT seq FROM audit_recorder.events ORDER BY seq")]
    finally:
        await conn.close()


def trusted(process):
    return {process.key.key_id: public_key_from_b64(process.key.public_b64)}


async def test_recorder_when_killed_with_sigkill_mid_burst_then_restart_leaves_no_gap_and_no_duplicate(
        recorder, nats_url, database_url):
    await recorder.start().healthy()
    events = [e for _ in range(1500) for e in order_story()]
    await publish(nats_url, events)
    conn = await asyncpg.connect(database_url)
    try:
        while (recorded := await conn.fetchval("SELECT count(*) FROM audit_recorder.events")) == 0:
            await asyncio.sleep(0.005)
    finally:
        await conn.close()
    recorder.stop(signal.SIGKILL)

    await recorder.start().healthy()
    head = await wait_recorded(nats_url, database_url, timeout=60)
    report = await verify(VerifyOptions(database_url, nats_url, trusted(recorder), wait_s=0))

    assert 0 < recorded < len(events), "the kill must land mid-burst"
    assert head == len(events) and await table_seqs(database_url) == list(range(1, len(events) + 1))
    assert report.intact, report.lines()


async def test_recorder_when_stopped_then_it_signs_the_head_into_the_file_and_the_stream(
        recorder, nats_url, database_url, streams):
    await recorder.start().healthy()
    await publish(nats_url, order_story() + order_story())
    head = await wait_recorded(nats_url, database_url)

    assert recorder.stop() == 0

    lines = checkpoint_file(recorder.home / "audit").read_bytes().splitlines()
    from_file = decode(lines[-1], AuditCheckpoint)
    on_stream = decode((await streams.get_last_msg("AUDIT_CHECKPOINTS", "audit.checkpoints")).data, AuditCheckpoint)
    assert from_file == on_stream and from_file.seq == head == 6
    verify_checkpoint(from_file, trusted(recorder))


async def test_recorder_when_garbage_is_on_a_domain_subject_then_it_is_recorded_byte_for_byte(
        recorder, nats_url, database_url, streams):
    await recorder.start().healthy()
    await streams.publish("orders.requested.AAPL", b'{"event_type": "OrderRequested", "qty": 1.5}')
    await wait_recorded(nats_url, database_url)

    conn = await asyncpg.connect(database_url)
    try:
        row = await conn.fetchrow("SELECT subject, event_type, event_id, payload FROM audit_recorder.events")
    finally:
        await conn.close()
    assert row["subject"] == "orders.requested.AAPL" and row["event_type"] == "OrderRequested"
    assert row["event_id"] is None and row["payload"] == b'{"event_type": "OrderRequested", "qty": 1.5}'


CHANGES = (
    "UPDATE audit_recorder.events SET subject = 'x'",
    "DELETE FROM audit_recorder.events",
    "TRUNCATE audit_recorder.events",
    "DELETE FROM audit_recorder.stream_identity",
)


async def test_table_when_anyone_updates_deletes_or_truncates_then_refused(recorder, nats_url, database_url):
    await recorder.start().healthy()
    await publish(nats_url, order_story())
    await wait_recorded(nats_url, database_url)
    conn = await asyncpg.connect(database_url)
    refusals = []
    try:
        for statement in CHANGES:
            try:
                await conn.execute(statement)
            except asyncpg.InsufficientPrivilegeError as exc:
                refusals.append(str(exc))
        count = await conn.fetchval("SELECT count(*) FROM audit_recorder.events")
    finally:
        await conn.close()

    assert len(refusals) == len(CHANGES) and all("append-only" in text for text in refusals)
    assert count == 3


async def test_recorder_when_the_audit_stream_was_deleted_and_recreated_then_it_refuses_to_start(
        recorder, nats_url, database_url, streams):
    await recorder.start().healthy()
    await publish(nats_url, order_story())
    await wait_recorded(nats_url, database_url)
    recorder.stop()
    await streams.delete_stream("AUDIT")

    code = recorder.start().proc.wait(30)

    assert code != 0
    assert "deleted and recreated" in recorder.log_text()


async def test_protection_when_audit_allows_delete_purge_and_ageing_then_recording_is_refused(nats_url):
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await js.add_stream(api.StreamConfig(name="ORDERS", subjects=["orders.>"]))
        await js.add_stream(api.StreamConfig(name="AUDIT", sources=[api.StreamSource(name="ORDERS")], max_age=3600))

        with pytest.raises(StreamUnprotected) as refused:
            await check_protection(js)
    finally:
        await nc.drain()

    assert "deny_delete" in str(refused.value) and "max_age" in str(refused.value)
