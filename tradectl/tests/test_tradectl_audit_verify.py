"""``tradectl audit verify`` and ``tail --order`` against a trail written by the real audit-recorder on real NATS and
PostgreSQL; each tampering in a fresh setup, done the way an attacker with the database's superuser would."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from audit_recorder.checkpoints import checkpoint_file
from audit_recorder.testing import RecorderProcess, declared_streams, order_story, publish, wait_recorded
from tradebus_contracts import encode_event
from tradebus_contracts.audit import chain_step
from tradebus_contracts.signing import public_key_from_b64
from tradebus_runtime.bus import ensure_streams
from tradectl.audit_check import DELETED, EDITED, INSERTED, STREAM_MISSING, TRUNCATED
from tradectl.audit_verify import VerifyOptions, verify

pytestmark = pytest.mark.integration

TRADECTL = str(Path(sys.executable).parent / "tradectl")
STORIES = 13  # 39 events, a checkpoint every 10


@pytest.fixture
async def js(nats_url):
    async with declared_streams(nats_url) as js:
        yield js


@pytest.fixture
async def recorded(nats_url, database_url, tmp_path, js):
    """39 events recorded, the recorder stopped (its last checkpoint signs the head)."""
    recorder = RecorderProcess(nats_url, database_url, tmp_path / "home", AUDIT_CHECKPOINT_EVERY_EVENTS="10")
    await recorder.start().healthy()
    await publish(nats_url, [e for _ in range(STORIES) for e in order_story()])
    await wait_recorded(nats_url, database_url)
    assert recorder.stop() == 0
    return recorder


def options(recorder, **extra):
    trusted = {recorder.key.key_id: public_key_from_b64(recorder.key.public_b64)}
    return VerifyOptions(recorder.database_url, recorder.nats_url, trusted,
                         checkpoint_files=(checkpoint_file(recorder.home / "audit"),), wait_s=0, **extra)


async def as_superuser(database_url, *statements, args=()):
    """A superuser silencing the triggers, as someone covering their tracks would."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("SET session_replication_role = replica")
        for statement in statements:
            await conn.execute(statement, *args)
    finally:
        await conn.close()


async def first_failure(recorder):
    report = await verify(options(recorder))
    assert not report.intact
    return report.findings[0].seq, report.findings[0].kind


async def test_verify_when_untouched_then_intact_with_the_newest_checkpoint(recorded):
    report = await verify(options(recorded, chunk=7, workers=2))  # worker processes, chunks across the history

    assert report.intact, report.lines()
    assert report.rows_checked == 39 and report.newest_checkpoint.seq == 39
    assert report.lines()[0].startswith("audit trail intact: seq 1..39 (39 events)")


async def test_verify_when_a_payload_byte_is_edited_in_postgres_then_edited_at_that_seq(recorded, database_url):
    await as_superuser(database_url, "UPDATE audit_recorder.events SET payload = overlay(payload placing 'X'::bytea "
                                     "from 3 for 1) WHERE seq = 17")

    assert await first_failure(recorded) == (17, EDITED)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


async def test_verify_from_a_sequence_when_an_edit_lies_before_it_then_intact_from_there_with_a_bar_of_that_part(
        recorded, database_url):
    await as_superuser(database_url, "UPDATE audit_recorder.events SET payload = overlay(payload placing 'X'::bytea "
                                     "from 3 for 1) WHERE seq = 5")
    terminal = Terminal()

    from_20 = await verify(options(recorded, from_seq=20, progress=terminal, progress_from=10))
    cli = subprocess.run([TRADECTL, "audit", "verify", "--from", "20"], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "NATS_URL": recorded.nats_url, "DATABASE_URL": recorded.database_url,
                              "TRADEBUS_HOME": str(recorded.home)})

    assert await first_failure(recorded) == (5, EDITED)  # from the start, the edit is found
    assert from_20.intact and from_20.rows_checked == 20
    assert from_20.lines()[0].startswith("audit trail intact: seq 20..39 (20 events)")
    assert (cli.returncode, cli.stdout.splitlines()) == (0, from_20.lines())
    assert cli.stderr == ""  # no bar when the output is not a terminal (nor for a short run)
    bar = terminal.getvalue().split("\r")
    assert bar[-1].startswith("verifying ") and " 20/20 (100%) " in bar[-1] and bar[-1].endswith("\n")
    assert all("/20 (" in update for update in bar[1:])  # every update counts the rows from 20 on


async def test_verify_when_a_row_is_deleted_then_deleted_at_that_seq(recorded, database_url):
    await as_superuser(database_url, "DELETE FROM audit_recorder.events WHERE seq = 17")

    assert await first_failure(recorded) == (17, DELETED)


async def test_verify_when_a_correctly_chained_row_is_inserted_then_inserted_at_that_seq(recorded, database_url):
    conn = await asyncpg.connect(database_url)
    head = await conn.fetchrow("SELECT seq, hash, subject FROM audit_recorder.events ORDER BY seq DESC LIMIT 1")
    await conn.close()
    forged, seq = encode_event(order_story()[0]), head["seq"] + 1
    await as_superuser(database_url, "INSERT INTO audit_recorder.events (seq, subject, stored_at, payload, hash) "
                                     "VALUES ($1, $2, now(), $3, $4)",
                       args=(seq, head["subject"], forged, chain_step(head["hash"], seq, forged)))

    assert await first_failure(recorded) == (40, INSERTED)


async def test_verify_when_the_last_five_rows_are_deleted_then_truncated_and_the_cli_says_so(recorded, database_url):
    await as_superuser(database_url, "DELETE FROM audit_recorder.events WHERE seq > 34")

    result = subprocess.run([TRADECTL, "audit", "verify"], capture_output=True, text=True, timeout=60, env={
        **os.environ, "NATS_URL": recorded.nats_url, "DATABASE_URL": recorded.database_url,
        "TRADEBUS_HOME": str(recorded.home)})

    assert await first_failure(recorded) == (35, TRUNCATED)
    assert result.returncode == 1
    assert result.stdout.startswith("audit trail FAILED at seq 35: truncated"), result.stdout + result.stderr


async def test_verify_when_the_audit_stream_is_deleted_and_recreated_then_stream_missing(recorded, js):
    await js.delete_stream("AUDIT")
    await ensure_streams(js)

    assert await first_failure(recorded) == (1, STREAM_MISSING)


async def test_verify_when_events_keep_arriving_while_it_runs_then_intact(nats_url, database_url, tmp_path, js):
    recorder = RecorderProcess(nats_url, database_url, tmp_path / "home")
    await recorder.start().healthy()
    await publish(nats_url, [e for _ in range(10) for e in order_story()])
    await wait_recorded(nats_url, database_url)

    async def traffic():
        for _ in range(40):
            await publish(nats_url, order_story())
            await asyncio.sleep(0.02)

    running = asyncio.create_task(traffic())
    report = await verify(options(recorder))
    await running
    recorder.stop()

    assert report.intact, report.lines()


async def test_tail_order_when_history_is_partly_unrecorded_then_each_event_once_in_order(
        nats_url, database_url, tmp_path, js):
    recorder = RecorderProcess(nats_url, database_url, tmp_path / "home")
    await recorder.start().healthy()
    story = order_story()
    await publish(nats_url, story[:2] + order_story())
    await wait_recorded(nats_url, database_url)
    recorder.stop()
    await publish(nats_url, story[2:])  # on the bus, not yet in the table
    later = story[1].model_copy(update={"event_id": order_story()[0].event_id})
    tail = subprocess.Popen([TRADECTL, "tail", "--order", str(story[0].order_id), "--json", "--count", "4"],
                            env={**os.environ, "NATS_URL": nats_url, "DATABASE_URL": database_url},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert "tailing" in tail.stderr.readline()

    await publish(nats_url, [later])
    out, _ = tail.communicate(timeout=15)

    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["event"]["event_id"] for line in lines] == [str(e.event_id) for e in [*story, later]]
    assert [line["seq"] for line in lines] == sorted({line["seq"] for line in lines})
