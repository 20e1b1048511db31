"""Contract: injected broker faults (/admin/faults) as the order gateway experiences them through alpaca-py."""

from __future__ import annotations

import time
import uuid

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest

from alpaca_sim.testing import wait_filled


def resting_buy(cid: str) -> LimitOrderRequest:
    return LimitOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=1, client_order_id=cid)


def test_submit_when_500_before_effect_then_error_and_no_order_stored(broker, admin):
    admin.fault(method="POST", path="/v2/orders", status=500, times=1)
    client = broker.trading()
    cid = f"f-{uuid.uuid4()}"

    with pytest.raises(APIError) as error:
        client.submit_order(resting_buy(cid))

    assert error.value.status_code == 500
    with pytest.raises(APIError) as lookup:
        client.get_order_by_client_id(cid)
    assert lookup.value.status_code == 404


def test_submit_when_504_after_effect_then_error_but_order_exists_by_client_order_id(broker, admin):
    admin.quote("AAPL", "100.00", "100.02")
    admin.fault(method="POST", path="/v2/orders", status=504, after_effect=True)
    client = broker.trading()
    cid = f"f-{uuid.uuid4()}"

    with pytest.raises(APIError) as error:
        client.submit_order(MarketOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, client_order_id=cid))

    assert error.value.status_code == 504
    found = wait_filled(client, client_order_id=cid)
    assert found.filled_qty == "1"


def test_fault_when_times_used_up_then_next_request_succeeds(broker, admin):
    admin.fault(method="GET", path="/v2/account", status=503, times=2)
    client = broker.trading()

    for _ in range(2):
        with pytest.raises(APIError):
            client.get_account()

    assert client.get_account().status.value == "ACTIVE"


def test_fault_when_glob_pattern_then_only_matching_paths_fail(broker, admin):
    admin.fault(method="GET", path="/v2/orders/*", status=502, times=0)
    client = broker.trading()
    order = client.submit_order(resting_buy(f"f-{uuid.uuid4()}"))

    with pytest.raises(APIError):
        client.get_order_by_id(order.id)
    assert client.get_orders() is not None

    admin.clear_faults()
    assert client.get_order_by_id(order.id).id == order.id


def test_fault_when_delay_only_then_slow_but_successful(broker, admin):
    admin.fault(method="GET", path="/v2/clock", delay_ms=300)
    client = broker.trading()

    started = time.monotonic()
    clock = client.get_clock()

    assert time.monotonic() - started >= 0.3 and clock.is_open is not None


def test_fault_when_429_injected_then_alpaca_py_retries_are_visible_as_success(broker, admin):
    admin.fault(method="GET", path="/v2/account", status=429, times=1)
    client = broker.trading(retries=True)
    client._retry_wait = 0

    assert client.get_account().status.value == "ACTIVE"


@pytest.mark.parametrize("body", [{"path": "v2/orders", "status": 500}, {"path": "/x", "status": 200},
                                  {"path": "/x"}, {"path": "/x", "status": 500, "times": -1}, ["nope"]])
def test_admin_fault_when_body_invalid_then_422(broker, admin, body):
    response = admin.http.post("/admin/faults", json=body)

    assert response.status_code == 422 and set(response.json()) == {"code", "message"}
