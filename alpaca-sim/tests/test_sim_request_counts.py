"""/admin/requests: what a client costs against the rate budget, counted by route (an order's id does not make a
new kind of call), from the last /admin/reset or DELETE."""

from __future__ import annotations

import uuid

from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import LimitOrderRequest


def test_requests_when_a_client_submits_and_looks_up_then_counted_per_route_with_ids_folded(broker, admin):
    client = broker.trading()
    for _ in range(2):
        order = client.submit_order(LimitOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY, limit_price=1,
                                                      time_in_force=TimeInForce.DAY, client_order_id=str(uuid.uuid4())))
        client.get_order_by_id(order.id)
    client.get_account()

    counts = admin.requests()

    assert counts["by_route"] == {"GET /v2/account": 1, "GET /v2/orders/{order_id}": 2, "POST /v2/orders": 2}
    assert counts["total"] == 5
    admin.http.delete("/admin/requests").raise_for_status()
    assert admin.requests() == {"total": 0, "by_route": {}}
