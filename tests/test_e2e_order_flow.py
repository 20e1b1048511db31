"""The whole stack as `make up` runs it: an order requested on the bus is risk-checked, signed, submitted to the
simulator through alpaca-py, filled, and every step is an event; a bad order is rejected with its reasons."""

import asyncio
import shutil
import tempfile
import uuid
from decimal import Decimal
from pathlib import Path

import nats
import pytest

from tradebus_contracts import OrderRequested, decode_event, encode_event, subject_for
from tradectl.testing import running_stack as run_stack
from tradectl.testing import stack_endpoints, wait_for_reference_data

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def running_stack():
    """One `tradectl up` for the module (its start-up is the slow part): (home, process, its start-up output)."""
    base = Path(tempfile.mkdtemp(prefix="tradebus-e2e-flow-"))
    try:
        with run_stack(base / "home") as (proc, output):
            yield base / "home", proc, output
    finally:
        shutil.rmtree(base, ignore_errors=True)


async def place_and_follow(nats_url, request, until, timeout=30):
    nc = await nats.connect(nats_url)
    seen = []
    done = asyncio.Event()

    async def on(msg):
        event = decode_event(msg.data)
        if getattr(event, "order_id", None) == request.order_id:
            seen.append(event)
            if until(seen):
                done.set()

    for subject in ("orders.>", "risk.>", "fills.>"):
        await nc.subscribe(subject, cb=on)
    await nc.jetstream().publish(subject_for(request), encode_event(request),
                                 headers={"Nats-Msg-Id": str(request.event_id)})
    try:
        await asyncio.wait_for(done.wait(), timeout)
    finally:
        await nc.drain()
    return seen


def order(**fields):
    order_id = uuid.uuid4()
    base = dict(producer="test", order_id=order_id, correlation_id=str(order_id), symbol="AAPL", side="buy",
                type="market", time_in_force="day", qty=Decimal("2"))
    base.update(fields)
    return OrderRequested(**base)


async def test_order_when_requested_on_the_bus_then_approved_submitted_and_filled_through_the_simulator(running_stack):
    home, _, _ = running_stack
    nats_url = stack_endpoints(home)["nats_url"]
    await wait_for_reference_data(nats_url)
    request = order()

    events = await place_and_follow(nats_url, request,
                                    lambda seen: any(getattr(e, "status", None) == "filled" for e in seen))
    types = [e.event_type for e in events]

    assert types[:2] == ["OrderRequested", "RiskApproved"]
    assert "OrderSubmitted" in types and "FillReported" in types
    assert sum(e.qty for e in events if e.event_type == "FillReported") == Decimal("2")
    assert all(e.correlation_id == str(request.order_id) for e in events)


async def test_order_when_invalid_then_rejected_with_reasons_and_nothing_reaches_the_broker(running_stack):
    home, _, _ = running_stack
    nats_url = stack_endpoints(home)["nats_url"]
    await wait_for_reference_data(nats_url)
    request = order(type="limit", qty=Decimal("0.0001"), time_in_force="gtc", limit_price=Decimal("187.123"))

    events = await place_and_follow(nats_url, request, lambda seen: any(e.event_type == "RiskRejected" for e in seen))
    await asyncio.sleep(1)

    rejection = events[1]
    assert rejection.event_type == "RiskRejected"
    assert {"FRACTIONAL_QTY_BELOW_MIN", "FRACTIONAL_REQUIRES_DAY", "SUB_PENNY_PRICE"} <= {r.code for r in rejection.reasons}
    assert [e.event_type for e in events] == ["OrderRequested", "RiskRejected"]
