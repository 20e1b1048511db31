"""Every query parameter Alpaca's spec documents for a route the simulator serves is honoured or refused with 422,
never silently ignored: the spec (alpaca_mcp_server/specs/trading-api.json) walked against the simulator's table
(`alpaca_sim.query_params`), then the parameters that table added, one by one."""

from __future__ import annotations

import json
import time
from importlib import resources

import httpx
import pytest
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest

from alpaca_sim.query_params import ROUTES
from alpaca_sim.testing import wait_filled
from alpaca_sim.trading_routes import ROUTES as SIM_ROUTES

UNHANDLED = "sent-to-see-a-refusal"


@pytest.fixture(scope="module")
def spec() -> dict:
    return json.loads(resources.files("alpaca_mcp_server").joinpath("specs/trading-api.json").read_text())


def _deref(spec: dict, node: dict) -> dict:
    while isinstance(node, dict) and "$ref" in node:
        target = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def documented(spec: dict, route: tuple[str, str]) -> dict[str, dict]:
    """The query parameters Alpaca documents for a simulator route, by name, with their schemas."""
    method, path = route
    item = spec["paths"][ROUTES[route].spec_path]
    params = [_deref(spec, p) for p in (*item.get("parameters", []), *item[method.lower()].get("parameters", []))]
    return {p["name"]: _deref(spec, p.get("schema", {})) for p in params if p["in"] == "query"}


def invalid_value(spec: dict, schema: dict) -> str | None:
    """A value the spec's schema rules out, or None when the schema admits any string."""
    if schema.get("type") == "array":
        return "NOT_A_LISTED_VALUE" if "enum" in _deref(spec, schema.get("items", {})) else None
    if "enum" in schema:
        return "not-a-listed-value"
    if schema.get("type") in ("integer", "number"):
        return "not-a-number"
    if schema.get("type") == "boolean":
        return "maybe"
    if schema.get("format") in ("date-time", "date", "uuid"):
        return f"not-a-{schema['format']}"
    return None


def sim_routes() -> set[tuple[str, str]]:
    return {(method, route.path) for route in SIM_ROUTES for method in route.methods if method != "HEAD"}


@pytest.fixture
def http(broker, admin):
    """Raw HTTP to the simulator with an order, a position in AAPL and its FILL activity in place."""
    admin.quote("AAPL", "100.00", "100.02")
    client = broker.trading()
    filled = client.submit_order(MarketOrderRequest(symbol="AAPL", qty=2, side=OrderSide.BUY,
                                                    time_in_force=TimeInForce.DAY))
    wait_filled(client, filled.id)
    with httpx.Client(base_url=broker.url, headers={"APCA-API-KEY-ID": broker.key,
                                                    "APCA-API-SECRET-KEY": broker.secret}, timeout=10) as session:
        session.order_id = str(filled.id)
        yield session


def concrete(path: str, http) -> str:
    return (path.replace("{order_id}", http.order_id).replace("{symbol:path}", "AAPL")
            .replace("{activity_type}", "FILL"))


def assert_alpaca_422(response: httpx.Response, what: str) -> None:
    assert response.status_code == 422, f"{what}: {response.status_code} {response.text[:200]}"
    body = response.json()
    assert set(body) == {"code", "message"} and body["code"] == 40010001, what


def test_routes_when_the_simulator_serves_one_then_it_is_in_the_table_and_in_alpacas_spec(spec):
    assert sim_routes() == set(ROUTES)
    for method, path in ROUTES:
        assert method.lower() in spec["paths"][ROUTES[(method, path)].spec_path], (method, path)


def test_table_when_it_names_a_parameter_then_alpacas_spec_documents_it_for_that_route(spec):
    for route, params in ROUTES.items():
        assert params.honoured <= set(documented(spec, route)), route


def test_documented_parameter_when_not_honoured_then_sending_it_is_a_422(spec, http):
    refused = []
    for route in sorted(ROUTES):
        method, path = route
        for name in sorted(set(documented(spec, route)) - ROUTES[route].honoured):
            response = http.request(method, concrete(path, http), params={name: UNHANDLED})
            assert_alpaca_422(response, f"{method} {path}?{name}")
            refused.append((route, name))
    total = sum(len(documented(spec, route)) for route in ROUTES)
    assert total == sum(len(p.honoured) for p in ROUTES.values()) + len(refused)


def test_honoured_parameter_when_its_value_breaks_the_spec_schema_then_422_not_ignored(spec, http):
    checked = 0
    for route in sorted(ROUTES):
        method, path = route
        for name, schema in sorted(documented(spec, route).items()):
            value = invalid_value(spec, schema)
            if name in ROUTES[route].honoured and value is not None:
                assert_alpaca_422(http.request(method, concrete(path, http), params={name: value}),
                                  f"{method} {path}?{name}={value}")
                checked += 1
    assert checked >= 25  # every typed parameter of the table is read by its route


# ---- the parameters this table added ---------------------------------------------------------------------------


def rest(client, qty: int):
    return client.submit_order(LimitOrderRequest(symbol="AAPL", qty=qty, side=OrderSide.BUY,
                                                 time_in_force=TimeInForce.DAY, limit_price=1))


def test_orders_when_before_or_after_order_id_then_the_orders_submitted_before_or_after_it(broker, admin):
    client = broker.trading()
    first = rest(client, 1)
    time.sleep(0.002)
    middle = rest(client, 2)
    time.sleep(0.002)
    last = rest(client, 3)

    before = client.get("/orders", {"before_order_id": str(middle.id)})
    after = client.get("/orders", {"after_order_id": str(middle.id)})

    assert [o["id"] for o in before] == [str(first.id)] and [o["id"] for o in after] == [str(last.id)]
    for params in ({"before_order_id": str(first.id), "after_order_id": str(last.id)},
                   {"before_order_id": str(first.id), "until": "2030-01-01T00:00:00Z"},
                   {"after_order_id": "0c1a3c1e-0000-4000-8000-000000000000"}):
        response = httpx.get(broker.url + "/v2/orders", params=params,
                             headers={"APCA-API-KEY-ID": broker.key, "APCA-API-SECRET-KEY": broker.secret})
        assert_alpaca_422(response, str(params))


def test_orders_when_until_is_an_orders_creation_time_then_that_order_is_left_out(broker, admin):
    client = broker.trading()
    order = client.get_order_by_id(rest(client, 1).id)

    assert client.get("/orders", {"until": order.created_at.isoformat()}) == []


def test_orders_when_asset_class_then_equity_orders_only_for_us_equity_or_all(broker, admin):
    client = broker.trading()
    rest(client, 1)

    assert len(client.get("/orders", {"asset_class": "us_equity"})) == 1
    assert len(client.get("/orders", {"asset_class": "all"})) == 1
    assert client.get("/orders", {"asset_class": "crypto,us_option"}) == []


def test_calendar_when_date_type_settlement_then_days_whose_settlement_date_is_in_range(broker, admin):
    client = broker.trading()

    days = client.get("/calendar", {"start": "2026-07-06", "end": "2026-07-06", "date_type": "SETTLEMENT"})
    trading = client.get("/calendar", {"start": "2026-07-06", "end": "2026-07-06", "date_type": "TRADING"})

    assert [(d["date"], d["settlement_date"]) for d in days] == [("2026-07-02", "2026-07-06")]  # July 3 closed
    assert [d["date"] for d in trading] == ["2026-07-06"]


def test_assets_when_attributes_then_assets_with_any_of_them(broker, admin):
    client = broker.trading()

    fractional = client.get("/assets", {"attributes": "fractional_eh_enabled,ipo"})
    optionable = client.get("/assets", {"attributes": "has_options"})

    assert fractional and all("fractional_eh_enabled" in a["attributes"] for a in fractional)
    assert "SIRI" not in {a["symbol"] for a in fractional}  # not fractionable
    assert optionable == []
