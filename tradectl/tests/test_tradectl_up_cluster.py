"""`tradectl up --nats-cluster 3`: three nats-servers from the wheel as one JetStream cluster, every stream, KV bucket
and durable consumer with three replicas, every service given all three URLs, the stack secured as always; an order
still flows end to end, and with one server killed the stack keeps answering."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

import nats
import psutil
import pytest

from tradebus_contracts import encode_event, subject_for
from tradebus_contracts.streams import ALL_STREAMS
from tradectl.testing import running_stack, stack_endpoints, wait_for_reference_data

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cluster_stack():
    base = Path(tempfile.mkdtemp(prefix="tradebus-up-cluster-"))
    home = base / "home"
    try:
        with running_stack(home, "--nats-cluster", "3", timeout=180) as (proc, output):
            yield home, proc, output
    finally:
        shutil.rmtree(base, ignore_errors=True)


def nats_servers(proc) -> list[psutil.Process]:
    return [p for p in psutil.Process(proc.pid).children(recursive=True) if p.name() == "nats-server"]


async def test_up_when_asked_for_a_cluster_then_three_servers_replicate_every_stream_and_one_may_die(
        cluster_stack, order_requested):
    home, proc, output = cluster_stack
    endpoints = stack_endpoints(home)
    urls = endpoints["nats_url"].split(",")
    assert len(urls) == 3 and len(nats_servers(proc)) == 3
    assert any("a cluster of 3" in line for line in output) and any("(3 replicas)" in line for line in output)
    nc = await nats.connect(urls)
    try:
        js = nc.jetstream()
        for stream in ALL_STREAMS:
            info = await js.stream_info(stream.name)
            assert info.config.num_replicas == 3 and len(info.cluster.replicas or []) == 2, stream.name
        kv = await js.stream_info("KV_REFDATA")
        assert kv.config.num_replicas == 3
        await wait_for_reference_data(endpoints["nats_url"])
        request = order_requested(symbol="AAPL")
        await js.publish(subject_for(request), encode_event(request))
        submitted = await js.subscribe("orders.submitted.AAPL", ordered_consumer=True)
        while True:
            msg = await submitted.next_msg(timeout=30)
            if str(request.order_id) in msg.data.decode():
                break
    finally:
        await nc.close()
    for child in psutil.Process(proc.pid).children(recursive=True):
        if child.name() not in ("nats-server", "postgres", "alpaca-sim"):
            env = child.environ()
            if "NATS_URL" in env:
                assert len(env["NATS_URL"].split(",")) == 3

    # one server killed: the other two elect leaders again and the services, reconnected, answer
    nats_servers(proc)[-1].kill()
    nc = await nats.connect(urls)
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            try:
                info = await nc.jetstream().stream_info("ORDERS")
                reply = await nc.request("health.risk-service", b"{}", timeout=2)
                if info.cluster.leader is not None and b'"status": "ok"' in reply.data:
                    break
            except Exception:
                pass
            assert asyncio.get_running_loop().time() < deadline, "no leader or no healthy risk-service within 30 s"
            await asyncio.sleep(0.5)
    finally:
        await nc.close()
