"""The bare stream reader of ``audit verify`` gives exactly what nats-py gives, or steps aside."""

from __future__ import annotations

import asyncio
import json

import nats
import pytest

from tradebus_runtime.bus import ensure_streams
from tradectl.bulk_read import PULL_BATCH, Unsupported, bulk_digests, connect_line, stream_seq
from tradectl.stream_digests import read_digests


def test_connect_line_when_url_has_user_and_password_then_they_are_sent():
    line = connect_line("nats://audit:s%40cret@127.0.0.1:4222", {})

    options = json.loads(line[len(b"CONNECT "):])
    assert options["user"] == "audit" and options["pass"] == "s@cret" and options["headers"] is True


def test_connect_line_when_url_has_a_token_then_it_is_the_auth_token():
    assert json.loads(connect_line("nats://t0ken@127.0.0.1:4222", {})[8:])["auth_token"] == "t0ken"


@pytest.mark.parametrize("info", [{"tls_required": True}, {"nonce": "abc"}])
def test_connect_line_when_server_wants_tls_or_nkeys_then_unsupported(info):
    with pytest.raises(Unsupported):
        connect_line("nats://127.0.0.1:4222", info)


def test_stream_seq_when_either_ack_subject_layout_then_the_stream_sequence():
    assert stream_seq(b"$JS.ACK.AUDIT.c1.1.417.3.1700000000000000000.9") == 417
    assert stream_seq(b"$JS.ACK.dom.acc.AUDIT.c1.1.417.3.1700000000000000000.9.tok") == 417


@pytest.mark.integration
async def test_bulk_digests_when_read_across_pull_batches_then_identical_to_nats_py(nats_url):
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await ensure_streams(js)
        count = PULL_BATCH + 700
        acks = [await js.publish_async(f"orders.requested.S{i % 7}", b'{"n":%d}' % i) for i in range(count)]
        for ack in acks:
            await ack
        while (await js.stream_info("AUDIT")).state.last_seq < count:
            await asyncio.sleep(0.05)

        fast = await bulk_digests(nats_url, "AUDIT", 3, count)
        reference = await read_digests(js, "AUDIT", 3, count)
    finally:
        await nc.drain()

    assert fast == reference and len(fast) == (count - 2) * 32
