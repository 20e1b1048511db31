"""A broker outage is a dependency away, not a bad approval (issue 11, "transient is not poison"): an approval whose
submit could not reach the broker waits for it, however many deliveries that takes, and is submitted once the broker
answers again — never dead-lettered."""

import asyncio
from datetime import timedelta

import asyncpg
import pytest

from order_gateway.app import APPROVALS
from order_gateway.approvals import SubmitNotConfirmed
from order_gateway.broker import BrokerUnavailable
from tradebus_contracts import OrderStatus, client_order_id_for
from tradebus_runtime.bus import Bury, Retry
from tradebus_runtime.faults import is_transient

from .builders import verdicts_on


def test_submit_not_confirmed_when_the_broker_stays_away_delivery_after_delivery_then_it_is_never_dead_lettered():
    """The approval consumer's own settings and the runtime's verdict, delivery after delivery (as the consumer does)."""
    verdicts = verdicts_on(SubmitNotConfirmed("broker unreachable after 5 attempts"), APPROVALS)

    assert [v for v in verdicts if isinstance(v, Bury)] == []
    assert all(isinstance(v, Retry) and v.transient and v.delay_s <= APPROVALS.transient_retry_max_s for v in verdicts)


def test_broker_unavailable_when_it_escapes_a_handler_then_it_is_a_dependency_away():
    assert is_transient(BrokerUnavailable("HTTP 503", status=503))


@pytest.fixture
def dead_letter_at_the_first_failure(monkeypatch):
    """Asked for before ``gateway``: one non-transient failure dead-letters an approval."""
    monkeypatch.setenv("GATEWAY_APPROVAL_MAX_DELIVER", "1")


async def failed_broker_calls(gateway, order_id) -> int:
    conn = await asyncpg.connect(gateway.database_url)
    try:
        return await conn.fetchval("SELECT count(*) FROM order_gateway.broker_calls WHERE order_id = $1 "
                                   "AND http_status = 503", order_id)
    finally:
        await conn.close()


@pytest.mark.integration
async def test_approval_when_the_broker_is_down_past_max_deliver_then_submitted_once_it_is_back_not_dead_lettered(
        dead_letter_at_the_first_failure, gateway):
    # the broker is down: every POST and every lookup by client_order_id answers 503
    await gateway.admin("/admin/faults", {"method": "*", "path": "/v2/orders", "status": 503, "times": 0})
    request = gateway.request()
    await gateway.publish(gateway.approve(request, ttl=timedelta(seconds=120)))

    # one delivery is a POST and four lookups; a sixth failed call is a delivery past max_deliver (1)
    for _ in range(600):
        if await failed_broker_calls(gateway, request.order_id) >= 6:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the approval was not delivered again after the broker failed it\n"
                             + gateway.log_text()[-3000:])
    await gateway.admin("/admin/faults", method="DELETE")
    final = await gateway.final_status(request.order_id, timeout=30)

    assert final.status == OrderStatus.FILLED
    assert len(await gateway.broker_orders(client_order_id_for(request.order_id))) == 1
    assert len(gateway.of(request.order_id, "OrderSubmitted")) == 1
    log = gateway.log_text()
    assert "consumer.waiting_for_dependency" in log and "dlq.published" not in log
