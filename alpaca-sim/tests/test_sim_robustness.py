"""Bad input to any endpoint gets Alpaca's error shape and a 4xx — never a 500, never a half-changed state."""

from __future__ import annotations

import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alpaca_sim.app import SimSettings
from alpaca_sim.portfolio import account_json
from alpaca_sim.testing import simulator_in_thread

HEADERS = {"APCA-API-KEY-ID": "k", "APCA-API-SECRET-KEY": "s"}
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True),
                    st.text(max_size=12), st.sampled_from(["1", "0.5", "100.123", "-1", "1e999", "1e40", "1e-40", "12345678901.123456789", "NaN", "AAPL", "buy", "limit", "day"]))
order_bodies = st.one_of(
    st.dictionaries(st.sampled_from(["symbol", "qty", "notional", "side", "type", "time_in_force", "limit_price",
                                     "stop_price", "trail_price", "trail_percent", "extended_hours", "client_order_id",
                                     "order_class"]), scalars, max_size=10),
    st.lists(scalars, max_size=3), scalars,
)


@pytest.fixture(scope="module")
def http():
    with simulator_in_thread(SimSettings(rate_limit=1_000_000, tick_seconds=0.05)) as running:
        with httpx.Client(base_url=running.url, headers=HEADERS, timeout=10) as client:
            client.running = running
            yield client


def assert_alpaca_error_or_ok(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body["code"], int) and isinstance(body["message"], str)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=order_bodies)
def test_submit_when_body_is_arbitrary_json_then_4xx_or_a_valid_order(http, body):
    assert_alpaca_error_or_ok(http.post("/v2/orders", content=json.dumps(body)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=order_bodies)
def test_replace_when_body_is_arbitrary_then_4xx_and_resting_order_intact(http, body):
    resting = http.post("/v2/orders", json={"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit",
                                             "limit_price": "1", "time_in_force": "gtc"}).json()

    response = http.patch(f"/v2/orders/{resting['id']}", content=json.dumps(body))

    assert_alpaca_error_or_ok(response)
    if response.status_code >= 400:
        assert http.get(f"/v2/orders/{resting['id']}").json()["status"] == "new"


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(["/v2/orders", "/v2/account/activities", "/v2/calendar", "/v2/assets",
                             "/v2/stocks/quotes/latest", "/v2/orders:by_client_order_id", "/v2/positions/AAPL",
                             "/v2/orders/not-a-uuid", "/v2/assets/%00", "/v2/account/activities/FILL"]),
       params=st.dictionaries(st.sampled_from(["status", "limit", "after", "until", "direction", "symbols", "side",
                                               "nested", "page_size", "page_token", "date", "start", "end",
                                               "client_order_id", "activity_types", "qty", "percentage"]),
                              st.text(max_size=10), max_size=4))
def test_get_when_query_is_arbitrary_then_never_a_500(http, path, params):
    assert_alpaca_error_or_ok(http.get(path, params=params))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(target=st.sampled_from([("PUT", "/admin/quotes/AAPL"), ("POST", "/admin/faults"), ("POST", "/admin/liquidity"),
                               ("POST", "/admin/clock"), ("POST", "/admin/corporate_actions"), ("POST", "/admin/webhooks"),
                               ("PUT", "/admin/quotes/NOPE"), ("POST", "/admin/cancel_latency")]),
       body=st.one_of(st.dictionaries(st.sampled_from(["bid", "ask", "symbol", "max_fill_qty", "is_open", "type",
                                                        "new_rate", "old_rate", "cash", "url", "secret", "path",
                                                        "status", "times", "delay_ms", "method", "after_effect"]),
                                      scalars, max_size=5), scalars))
def test_admin_when_body_is_arbitrary_then_never_a_500(http, target, body):
    method, path = target
    response = http.request(method, path, content=json.dumps(body))
    http.delete("/admin/faults")
    http.post("/admin/clock", json={"is_open": True})
    http.post("/admin/cancel_latency", json={"delay_ms": 0})

    assert_alpaca_error_or_ok(response)


def test_money_when_fuzzed_then_account_still_consistent(http):
    account = account_json(http.running.sim.broker)

    assert account["equity"] == account["portfolio_value"]
