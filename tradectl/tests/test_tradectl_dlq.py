"""``tradectl dlq list`` / ``dlq replay``: an operator sees the dead letters and brings them back, once."""

import asyncio
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import nats
import pytest

from tradebus_contracts import DeadLetter, encode_event, subject_for
from tradebus_runtime.bus import Consumer, ConsumerSpec, PoisonMessage
from tradectl.dlq import (
    Letter,
    ReplayRecord,
    list_letters,
    read_letters,
    refusal,
    replay_headers,
    replay_letters,
    replay_msg_id,
    table,
)

TRADECTL = str(Path(sys.executable).parent / "tradectl")


def dead(payload=b'{"qty": 1.5}', headers=None, truncated=False, service="risk-service"):
    letter = DeadLetter.from_raw(service=service, original_subject="orders.requested.AAPL", reason="undecodable: qty",
                                 payload=payload, headers={"Nats-Msg-Id": "evt-1"} if headers is None else headers)
    return letter.model_copy(update={"payload_truncated": truncated})


def letter_at(seq, letter, record=None):
    return Letter(seq, f"dlq.{letter.service}", datetime(2026, 12, 1, 14, 30, tzinfo=UTC), letter, record)


# --- pure: ids, headers, refusals, the table -----------------------------------------------------------------


def test_replay_msg_id_when_replayed_then_never_the_original_id_and_stable_per_replay():
    letter = dead()

    assert replay_msg_id(letter, 7, 1) == "evt-1:replay:7:1"
    assert replay_msg_id(letter, 7, 2) == "evt-1:replay:7:2"  # a --force replay is not swallowed either


def test_replay_headers_when_the_original_had_server_directives_then_they_are_dropped_and_the_origin_is_named():
    letter = dead(headers={"Nats-Msg-Id": "evt-1", "Nats-Expected-Last-Sequence": "41", "Nats-Rollup": "sub",
                           "traceparent": "00-abc-def-01"})

    assert replay_headers(letter, 7, 1) == {"traceparent": "00-abc-def-01", "Nats-Msg-Id": "evt-1:replay:7:1",
                                            "Tradebus-Replay-Of": "DLQ:7"}


def test_refusal_when_replayed_truncated_or_not_a_letter_then_refused_with_the_reason():
    record = ReplayRecord("replayed", 1, "2026-12-01T14:31:00+00:00", "ops@host", "orders.requested.AAPL", "x")

    assert refusal(letter_at(1, dead()), force=False) is None
    assert "already replayed 2026-12-01T14:31:00+00:00 by ops@host; --force" in refusal(letter_at(1, dead(), record),
                                                                                        force=False)
    assert refusal(letter_at(1, dead(), record), force=True) is None
    assert "truncated" in refusal(letter_at(1, dead(truncated=True)), force=True)
    assert refusal(Letter(1, "dlq.x", datetime.now(UTC), None), force=True) == "not a DeadLetter event"


def test_table_when_letters_listed_then_columns_align_and_long_reasons_are_shortened():
    record = ReplayRecord("replayed", 2, "2026-12-01T14:31:00.123+00:00", "ops@host", "orders.requested.AAPL", "x")
    long_reason = dead().model_copy(update={"reason": "handler failed 5 times: " + "x" * 200})

    lines = table([letter_at(3, dead()), letter_at(12, long_reason, record)])

    assert lines[0].split() == ["ID", "DEAD-LETTERED", "(UTC)", "SERVICE", "ORIGINAL", "SUBJECT", "REPLAYED", "REASON"]
    assert lines[1].split()[:6] == ["3", "2026-12-01", "14:30:00", "risk-service", "orders.requested.AAPL", "-"]
    assert "2x 2026-12-01T14:31:00Z" in lines[2] and lines[2].endswith("…")
    assert lines[1].index("orders.requested") == lines[2].index("orders.requested")


# --- with real NATS, through the command line ----------------------------------------------------------------


def tradectl(nats_url, *args):
    """The real command line (a process: ~1.5 s of imports, so most tests call the commands' functions instead)."""
    return subprocess.run([TRADECTL, *args], env={**os.environ, "NATS_URL": nats_url}, capture_output=True,
                          text=True, timeout=30)


async def dlq_list(nats_url, service=None, as_json=True):
    out = io.StringIO()
    code = await list_letters(nats_url, service, as_json, out)
    lines = out.getvalue().splitlines()
    return code, [json.loads(line) for line in lines] if as_json else lines


async def dlq_replay(nats_url, *ids, every=False, service=None, force=False):
    out = io.StringIO()
    code = await replay_letters(nats_url, ids, every=every, service=service, force=force, out=out)
    return code, out.getvalue()


@pytest.fixture
def bus_service() -> str:
    return "risk-service"  # the root conftest's ``bus`` publishes as the service whose letters these are


async def dead_letter_through_a_consumer(bus, event):
    """Publish ``event`` and let a consumer of risk-service's refuse it: a real dead letter, from the real msg."""

    async def refuse(_event, _msg):
        raise PoisonMessage("symbol not tradable today")

    spec = ConsumerSpec(stream="ORDERS", durable="refuses", filter_subjects=("orders.requested.*",))
    consumer = Consumer(bus, spec, refuse)
    await consumer.start()
    await bus.publish(event)
    for _ in range(250):
        if consumer.dead_lettered:
            break
        await asyncio.sleep(0.02)
    await consumer.stop()
    await bus.js.delete_consumer("ORDERS", "refuses")


async def stored_on(js, subject):
    sub = await js.pull_subscribe(subject, stream="ORDERS")
    try:
        return await sub.fetch(10, timeout=1)
    except nats.errors.TimeoutError:
        return []
    finally:
        await sub.unsubscribe()


@pytest.mark.integration
async def test_dlq_list_when_letters_exist_then_a_table_and_json_lines_with_the_full_reason(bus, nats_url):
    await bus.publish(dead(service="risk-service"))
    await bus.publish(dead(service="order-gateway", payload=b"\xff\xfe"))

    listed = tradectl(nats_url, "dlq", "list")
    code, records = await dlq_list(nats_url)
    _, one_service = await dlq_list(nats_url, "order-gateway")

    lines = listed.stdout.splitlines()
    assert listed.returncode == 0 and len(lines) == 3
    assert lines[1].split()[0] == "1" and "risk-service" in lines[1] and "orders.requested.AAPL" in lines[1]
    assert code == 0 and [r["id"] for r in records] == [1, 2] and records[0]["reason"] == "undecodable: qty"
    assert records[0]["original_msg_id"] == "evt-1" and records[0]["replayed"] is None
    assert [r["service"] for r in one_service] == ["order-gateway"]


@pytest.mark.integration
async def test_dlq_replay_when_within_the_duplicate_window_then_the_original_bytes_are_stored_again_and_consumed(
    bus, nats_url, order_requested
):
    event = order_requested()
    await dead_letter_through_a_consumer(bus, event)
    seen = []

    async def accept(got, msg):
        seen.append((got, msg.headers.get("Tradebus-Replay-Of")))

    later = Consumer(bus, ConsumerSpec(stream="ORDERS", durable="fixed", filter_subjects=("orders.requested.*",)),
                     accept)
    await later.start()  # a consumer that would now accept it (the bug fixed, the symbol tradable again)

    replayed = tradectl(nats_url, "dlq", "replay", "1")  # seconds after the original: inside the 2-minute window
    for _ in range(250):
        if len(seen) == 2:
            break
        await asyncio.sleep(0.02)
    await later.stop()
    stored = await stored_on(bus.js, subject_for(event))

    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert f"DLQ 1: replayed to {subject_for(event)} (ORDERS seq 2, Nats-Msg-Id {event.event_id}:replay:1:1)" \
        in replayed.stdout
    assert [m.data for m in stored] == [encode_event(event)] * 2  # byte for byte, not swallowed as a duplicate
    assert [(got, origin) for got, origin in seen] == [(event, None), (event, "DLQ:1")]


@pytest.mark.integration
async def test_dlq_replay_when_replayed_already_then_refused_unless_forced_and_the_list_says_so(
    bus, nats_url, order_requested
):
    event = order_requested()
    await dead_letter_through_a_consumer(bus, event)

    first, _ = await dlq_replay(nats_url, 1)
    again = await dlq_replay(nats_url, 1)
    forced = await dlq_replay(nats_url, 1, force=True)
    _, (listed,) = await dlq_list(nats_url)
    stored = await stored_on(bus.js, subject_for(event))

    assert first == 0
    assert again[0] == 1 and "DLQ 1: not replayed: already replayed" in again[1]
    assert forced[0] == 0 and f"{event.event_id}:replay:1:2" in forced[1]
    assert listed["replayed"]["count"] == 2 and listed["replayed"]["state"] == "replayed"
    assert listed["replayed"]["stream"] == "ORDERS" and listed["replayed"]["stream_seq"] == 3
    assert len(stored) == 3


@pytest.mark.integration
async def test_dlq_replay_all_when_some_are_replayed_or_truncated_then_only_the_rest_go_out(bus, nats_url):
    await bus.publish(dead(payload=encode_event(DeadLetter.from_raw(
        service="x", original_subject="orders.requested.AAPL", reason="r", payload=b"1"))))  # any bytes will do
    await bus.publish(dead(truncated=True))
    await bus.publish(dead())
    assert (await dlq_replay(nats_url, 3))[0] == 0

    code, said = await dlq_replay(nats_url, every=True)
    again, said_again = await dlq_replay(nats_url, every=True, service="risk-service")
    letters = await read_letters(bus.js)

    assert code == 1  # the truncated one could not go
    assert "DLQ 1: replayed" in said and "DLQ 2: not replayed: its payload was truncated" in said
    assert "DLQ 3" not in said  # replayed before: --all leaves it
    assert [letter.replay is not None for letter in letters] == [True, False, True]
    assert again == 1 and said_again.splitlines() == ["DLQ 2: not replayed: its payload was truncated when it was "
                                                      "dead-lettered: the original bytes are not all here"]


@pytest.mark.integration
async def test_dlq_replay_when_the_id_is_unknown_or_none_given_then_it_says_so(bus, nats_url):
    unknown = await dlq_replay(nats_url, 99)
    neither = tradectl(nats_url, "dlq", "replay")

    assert unknown == (1, "DLQ 99: no dead letter with this ID\n")
    assert neither.returncode != 0 and "give the IDs to replay, or --all" in neither.stderr


@pytest.mark.integration
async def test_dlq_list_when_there_are_none_then_it_says_so(bus, nats_url):
    code, lines = await dlq_list(nats_url, as_json=False)

    assert (code, lines) == (0, ["no dead letters"])
