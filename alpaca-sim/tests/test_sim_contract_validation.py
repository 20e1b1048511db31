"""Contract: Alpaca's refusals — status, code and message shape — for bad orders and bad credentials."""

from __future__ import annotations

import uuid

import httpx
import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest

from alpaca_sim.testing import wait_for


def refusal(call) -> APIError:
    with pytest.raises(APIError) as error:
        call()
    assert isinstance(error.value.code, int) and error.value.message
    return error.value


def post_order(broker, **body):
    """Raw POST through alpaca-py's REST layer, for bodies its request models would refuse to build."""
    return lambda: broker.trading().post("/orders", body)


def test_submit_when_client_order_id_reused_then_422_unique(broker):
    client = broker.trading()
    cid = f"dup-{uuid.uuid4()}"
    client.submit_order(LimitOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=1, client_order_id=cid))

    error = refusal(lambda: client.submit_order(LimitOrderRequest(
        symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=1, client_order_id=cid)))

    assert error.status_code == 422 and "client_order_id must be unique" in error.message


def test_submit_when_client_order_id_of_a_canceled_order_then_still_refused(broker):
    client = broker.trading()
    cid = f"dup-{uuid.uuid4()}"
    order = client.submit_order(LimitOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=1, client_order_id=cid))
    client.cancel_order_by_id(order.id)

    error = refusal(post_order(broker, symbol="AAPL", qty="1", side="buy", type="market", time_in_force="day", client_order_id=cid))

    assert error.status_code == 422


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"qty": "1", "notional": "10"}, id="qty-and-notional"),
        pytest.param({}, id="neither-qty-nor-notional"),
        pytest.param({"qty": "0"}, id="zero-qty"),
        pytest.param({"qty": "-1"}, id="negative-qty"),
        pytest.param({"qty": "abc"}, id="non-numeric-qty"),
        pytest.param({"qty": "0.0000000001"}, id="ten-decimals"),
        pytest.param({"qty": "1.000000000000000000000000000001"}, id="thirty-decimals"),  # 28-digit context: 1
        pytest.param({"qty": "1", "type": "limit"}, id="limit-without-price"),
        pytest.param({"qty": "1", "limit_price": "10"}, id="market-with-limit-price", marks=pytest.mark.sim_strict),
        pytest.param({"qty": "1", "type": "stop_limit", "limit_price": "10"}, id="stop-limit-without-stop"),
        pytest.param({"qty": "1", "time_in_force": "forever"}, id="unknown-tif"),
        pytest.param({"qty": "1", "side": "hold"}, id="unknown-side"),
        pytest.param({"qty": "1", "type": "teleport"}, id="unknown-type"),
        pytest.param({"qty": "1", "extended_hours": True}, id="extended-hours-market"),
        pytest.param({"qty": "1.5", "time_in_force": "gtc"}, id="fractional-gtc"),
        pytest.param({"qty": "0.0005"}, id="fractional-below-minimum", marks=pytest.mark.sim_strict),
        pytest.param({"notional": "10", "type": "limit", "limit_price": "1"}, id="notional-limit", marks=pytest.mark.sim_strict),
        pytest.param({"qty": "1", "order_class": "bracket"}, id="bracket-not-simulated", marks=pytest.mark.sim_strict),
    ],
)
def test_submit_when_input_invalid_then_422(broker, body, request):
    if request.node.get_closest_marker("sim_strict") and not broker.is_sim:
        pytest.skip("the simulator is stricter than documented Alpaca behaviour here")
    order = {"symbol": "AAPL", "side": "buy", "type": "market", "time_in_force": "day", **body}

    error = refusal(post_order(broker, **order))

    assert error.status_code == 422


def test_submit_when_qty_is_a_json_number_with_thirty_decimals_then_422(broker):
    """A JSON number, not a string: read as a float it was 1.0 and filled. Sent as raw bytes, since alpaca-py would
    send a float (17 digits)."""
    body = ('{"symbol": "AAPL", "side": "buy", "type": "market", "time_in_force": "day", '
            '"qty": 1.000000000000000000000000000001}')
    headers = {"APCA-API-KEY-ID": broker.key, "APCA-API-SECRET-KEY": broker.secret, "content-type": "application/json"}

    r = httpx.post(f"{broker.url}/v2/orders", content=body, headers=headers, timeout=10)

    assert r.status_code == 422, r.text
    assert not broker.trading().get_orders()  # nothing was placed


def test_submit_when_limit_price_sub_penny_then_422(broker):
    error = refusal(post_order(broker, symbol="AAPL", qty="1", side="buy", type="limit", time_in_force="day", limit_price="100.123"))

    assert error.status_code == 422 and "sub-penny" in error.message


def test_submit_when_sub_dollar_price_has_four_decimals_then_accepted(broker):
    order = broker.trading().post("/orders", {"symbol": "SNDL", "qty": "1", "side": "buy", "type": "limit", "time_in_force": "day", "limit_price": "0.5123"})

    assert order["limit_price"] == "0.5123"


def test_submit_when_fractional_qty_on_non_fractionable_asset_then_422(broker):
    error = refusal(post_order(broker, symbol="SIRI", qty="1.5", side="buy", type="market", time_in_force="day"))

    assert error.status_code == 422 and "fractionable" in error.message


def test_submit_when_notional_below_one_dollar_then_403_cost_basis(broker):
    error = refusal(post_order(broker, symbol="AAPL", notional="0.5", side="buy", type="market", time_in_force="day"))

    assert error.status_code == 403 and error.code == 40310000


def test_submit_when_asset_not_tradable_then_422(broker):
    error = refusal(post_order(broker, symbol="TWTR", qty="1", side="buy", type="market", time_in_force="day"))

    assert error.status_code == 422 if broker.is_sim else error.status_code in (404, 422)


def test_submit_when_symbol_unknown_then_422(broker):
    error = refusal(post_order(broker, symbol="NOPE123", qty="1", side="buy", type="market", time_in_force="day"))

    assert error.status_code == 422


def test_submit_when_cost_exceeds_buying_power_then_403_insufficient_buying_power(broker):
    client = broker.trading()

    error = refusal(lambda: client.submit_order(MarketOrderRequest(symbol="BRK.A", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY)))

    assert error.status_code == 403 and error.code == 40310000 and "buying power" in error.message


def test_submit_when_selling_more_than_held_then_403_insufficient_qty(broker, admin):
    admin.quote("AAPL", "100.00", "100.01")
    client = broker.trading()
    client.post("/orders", {"symbol": "AAPL", "qty": "2", "side": "buy", "type": "market", "time_in_force": "day"})
    wait_for(lambda: client.get_all_positions())

    error = refusal(post_order(broker, symbol="AAPL", qty="5", side="sell", type="market", time_in_force="day"))

    assert error.status_code == 403 and "insufficient qty" in error.message


def test_submit_when_shorting_hard_to_borrow_asset_then_403(broker):
    asset = broker.trading().get_asset("GME")
    if asset.shortable and asset.easy_to_borrow:
        pytest.skip("GME is easy to borrow at this broker today")
    error = refusal(post_order(broker, symbol="GME", qty="1", side="sell", type="market", time_in_force="day"))

    assert error.status_code == 403


def test_submit_when_shorting_fractional_qty_then_403(broker):
    error = refusal(post_order(broker, symbol="AAPL", qty="0.5", side="sell", type="market", time_in_force="day"))

    assert error.status_code in (403, 422)


def test_request_when_credentials_missing_then_401_in_alpaca_shape(broker):
    response = httpx.get(broker.url + "/v2/account")

    assert response.status_code in (401, 403)
    if broker.is_sim:
        assert response.json() == {"code": 40110000, "message": "request is not authorized"}


def test_request_when_body_not_json_then_400_in_alpaca_shape(broker):
    response = httpx.post(broker.url + "/v2/orders", content=b"{not json",
                          headers={"APCA-API-KEY-ID": broker.key, "APCA-API-SECRET-KEY": broker.secret})

    assert response.status_code in (400, 422)
    assert set(response.json()) >= {"code", "message"}


def test_request_when_path_unknown_then_404_json(broker, admin):
    response = httpx.get(broker.url + "/v2/nothing-here", headers={"APCA-API-KEY-ID": "k", "APCA-API-SECRET-KEY": "s"})

    assert response.status_code == 404 and set(response.json()) == {"code", "message"}


@pytest.mark.parametrize("params", [
    {"status": "sideways"}, {"limit": "x"}, pytest.param({"limit": "0"}, marks=pytest.mark.sim_strict),
    {"direction": "up"}, {"after": "yesterday"},
])
def test_list_orders_when_query_invalid_then_422(broker, params, request):
    if request.node.get_closest_marker("sim_strict") and not broker.is_sim:
        pytest.skip("the simulator is stricter than documented Alpaca behaviour here")
    error = refusal(lambda: broker.trading().get("/orders", params))

    assert error.status_code in (400, 422)


def test_replace_when_order_filled_then_422(broker, admin):
    admin.quote("AAPL", "100.00", "100.01")
    client = broker.trading()
    order = client.post("/orders", {"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market", "time_in_force": "day"})
    wait_for(lambda: client.get_order_by_id(order["id"]).filled_qty == "1")

    error = refusal(lambda: client.patch(f"/orders/{order['id']}", {"qty": 2}))

    assert error.status_code == 422
