import json
import os
import subprocess
import sys
from pathlib import Path

import nats
import pytest

from tradebus_contracts import encode_event, subject_for
from tradebus_runtime.bus import ensure_streams

pytestmark = pytest.mark.integration

TRADECTL = str(Path(sys.executable).parent / "tradectl")


def start_tail(nats_url, *args):
    proc = subprocess.Popen(
        [TRADECTL, "tail", *args],
        env={**os.environ, "NATS_URL": nats_url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    ready = proc.stderr.readline()  # "tailing ... (Ctrl-C to stop)" once subscribed
    assert ready.startswith("tailing"), ready
    return proc


async def publish(nats_url, *events):
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await ensure_streams(js)
        for event in events:
            await js.publish(subject_for(event), encode_event(event), headers={"Nats-Msg-Id": str(event.event_id)})
    finally:
        await nc.drain()


async def test_tail_when_event_published_by_hand_then_one_readable_line(nats_url, order_requested):
    event = order_requested(symbol="MSFT", qty="3", limit_price="410.10")
    proc = start_tail(nats_url, "--count", "1")

    await publish(nats_url, event)
    out, _ = proc.communicate(timeout=10)

    line = out.strip()
    assert proc.returncode == 0
    assert "OrderRequested" in line and "MSFT" in line and f"order={event.order_id}" in line
    assert "qty=3" in line and "limit_price=410.10" in line and "[orders.requested.MSFT]" in line


async def test_tail_when_json_then_each_line_is_the_event_as_published(nats_url, order_requested):
    event = order_requested()
    proc = start_tail(nats_url, "--json", "--count", "1")

    await publish(nats_url, event)
    out, _ = proc.communicate(timeout=10)

    record = json.loads(out)
    assert record["subject"] == "orders.requested.AAPL"
    assert record["event"] == json.loads(encode_event(event))


async def test_tail_when_filtered_by_symbol_and_type_then_other_events_are_not_shown(nats_url, order_requested):
    wanted = order_requested(symbol="NVDA")
    proc = start_tail(nats_url, "--symbol", "NVDA", "--type", "OrderRequested", "--count", "1")

    await publish(nats_url, order_requested(symbol="AAPL"), wanted)
    out, _ = proc.communicate(timeout=10)

    assert out.count("\n") == 1 and str(wanted.order_id) in out


async def test_tail_when_filtered_by_order_then_only_that_order(nats_url, order_requested):
    wanted = order_requested()
    proc = start_tail(nats_url, "orders.>", "--order", str(wanted.order_id), "--count", "1", "--json")

    await publish(nats_url, order_requested(), wanted)
    out, _ = proc.communicate(timeout=10)

    assert json.loads(out)["event"]["order_id"] == str(wanted.order_id)


def test_tail_when_no_nats_and_no_running_stack_then_clear_error(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "NATS_URL"}
    result = subprocess.run([TRADECTL, "tail", "--home", str(tmp_path)], env=env, capture_output=True, text=True,
                            timeout=10)

    assert result.returncode != 0
    assert "no running stack found" in result.stderr and "make up" in result.stderr
