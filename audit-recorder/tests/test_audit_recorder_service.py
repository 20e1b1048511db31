"""audit-recorder as a real process against real NATS and PostgreSQL: every message once, across kill -9; an
append-only table; signed checkpoints at the configured cadence; refusals when the stream cannot be trusted, the
process exiting with the reason."""

from __future__ import annotations

import asyncio
import signal
from itertools import pairwise

import asyncpg
import nats
import pytest
from nats.js import api

from audit_recorder.checkpoints import checkpoint_file
from audit_recorder.testing import RecorderProcess, declared_streams, order_story, publish, wait_recorded
from tradebus_contracts import decode
from tradebus_contracts.audit import verify_checkpoint
from tradebus_contracts.events import AuditCheckpoint
from tradebus_contracts.signing import public_key_from_b64
from tradebus_runtime.bus import ensure_streams
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
    await recorder.start().healthy()  # its table and consumer exist
    recorder.stop(signal.SIGKILL)
    events = [e for _ in range(1500) for e in order_story()]
    await publish(nats_url, events)  # the burst waits in AUDIT: the recorder drains it at its own pace
    recorder.start()  # and is killed as soon as it has written anything, well before it has caught up
    conn = await asyncpg.connect(database_url)
    try:
        for _ in range(15_000):  # 30 s at the most
            if (recorded := await conn.fetchval("SELECT count(*) FROM audit_recorder.events")) > 0:
                break
            await asyncio.sleep(0.002)
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


async def test_recorder_when_audit_allows_delete_purge_and_ageing_then_the_process_exits_saying_why(
        nats_url, database_url, tmp_path):
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await js.add_stream(api.StreamConfig(name="ORDERS", subjects=["orders.>"]))
        await js.add_stream(api.StreamConfig(name="AUDIT", sources=[api.StreamSource(name="ORDERS")], max_age=3600))
        await ensure_streams(js, update=False)  # the other streams as declared; a service never changes one
    finally:
        await nc.drain()
    recorder = RecorderProcess(nats_url, database_url, tmp_path / "home")

    try:
        code = recorder.start().proc.wait(30)
    finally:
        recorder.stop(signal.SIGKILL)

    log = recorder.log_text()
    assert code != 0
    assert "refusing to record" in log, log[-2000:]
    assert all(problem in log for problem in ("deny_delete is off", "deny_purge is off", "max_age is set"))
    assert not await recorded_rows(database_url)


async def recorded_rows(database_url) -> bool:
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetchval("SELECT to_regclass('audit_recorder.events') IS NOT NULL") and bool(
            await conn.fetchval("SELECT count(*) FROM audit_recorder.events"))
    finally:
        await conn.close()


async def test_recorder_when_it_signs_every_25_events_then_about_total_over_25_checkpoints_in_the_stream_and_file(
        nats_url, database_url, tmp_path, streams):
    recorder = RecorderProcess(nats_url, database_url, tmp_path / "home", AUDIT_CHECKPOINT_EVERY_EVENTS="25",
                               AUDIT_BATCH="5", AUDIT_CHECKPOINT_EVERY_S="3600")  # only the count signs
    try:
        await recorder.start().healthy()
        await publish(nats_url, [e for _ in range(70) for e in order_story()])
        head = await wait_recorded(nats_url, database_url)
        assert recorder.stop() == 0  # and signs the head on the way out
    finally:
        recorder.stop(signal.SIGKILL)
    state = (await streams.stream_info("AUDIT_CHECKPOINTS")).state
    on_stream = [decode((await streams.get_msg("AUDIT_CHECKPOINTS", seq)).data, AuditCheckpoint)
                 for seq in range(state.first_seq, state.last_seq + 1)]
    in_file = [decode(line, AuditCheckpoint) for line in checkpoint_file(recorder.home / "audit").read_bytes().splitlines()]

    seqs = [c.seq for c in on_stream]
    steps = [b - a for a, b in pairwise([0, *seqs[:-1]])]  # not to the last one: that one was signed at the stop
    assert head == 210 and on_stream == in_file and seqs[-1] == head
    assert head // (25 + 5 - 1) <= len(seqs) <= head // 25 + 1  # a batch (up to 5 rows) may overshoot the 25
    assert all(25 <= step <= 25 + 5 - 1 for step in steps), seqs
    for checkpoint in on_stream:
        verify_checkpoint(checkpoint, trusted(recorder))
