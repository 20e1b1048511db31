"""Responses validate against Alpaca's own OpenAPI spec (alpaca_mcp_server/specs/trading-api.json)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from importlib import resources

import pytest
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, OrderStatus, TimeInForce
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from alpaca_sim.testing import no_retry, wait_for

SPEC_URI = "urn:alpaca:trading-api"
FORMATS = FormatChecker(formats=())


@FORMATS.checks("date-time", raises=ValueError)
def _rfc3339(value: object) -> bool:
    if not isinstance(value, str):
        return True
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return "T" in value and moment.tzinfo is not None


@FORMATS.checks("uuid", raises=ValueError)
def _uuid(value: object) -> bool:
    return not isinstance(value, str) or bool(uuid.UUID(value))


@pytest.fixture(scope="module")
def spec() -> dict:
    text = resources.files("alpaca_mcp_server").joinpath("specs/trading-api.json").read_text()
    return json.loads(text)


def response_schema(spec: dict, path: str, method: str, status: str = "200") -> dict:
    response = spec["paths"][path][method]["responses"][status]
    schema = response["content"]["application/json"]["schema"]
    return json.loads(json.dumps(schema).replace('"#/components', f'"{SPEC_URI}#/components'))


def assert_conforms(spec: dict, body, path: str, method: str, status: str = "200", formats: bool = True) -> None:
    """formats=False where the spec's own format contradicts what Alpaca sends (see the README's quirks)."""
    registry = Registry().with_resource(SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT202012))
    validator = Draft202012Validator(response_schema(spec, path, method, status), registry=registry,
                                     format_checker=FORMATS if formats else None)
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])


def test_responses_when_a_session_of_trading_then_each_validates_against_alpacas_spec(broker, admin, spec):
    raw = no_retry(TradingClient(broker.key, broker.secret, raw_data=True, url_override=broker.url))
    admin.quote("AAPL", "100.00", "100.02")
    admin.liquidity("AAPL", 2)
    filled = raw.submit_order(MarketOrderRequest(symbol="AAPL", qty=3, side=OrderSide.BUY, time_in_force=TimeInForce.DAY))
    wait_for(lambda: raw.get_order_by_id(filled["id"])["status"] == OrderStatus.FILLED.value)
    resting = raw.submit_order(LimitOrderRequest(symbol="MSFT", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.GTC, limit_price=1))
    admin.corporate_action(type="dividend", symbol="AAPL", cash="0.24")

    assert_conforms(spec, resting, "/v2/orders", "post")
    assert_conforms(spec, raw.get_order_by_id(filled["id"]), "/v2/orders/{order_id}", "get")
    assert_conforms(spec, raw.get_order_by_client_id(resting["client_order_id"]), "/v2/orders:by_client_order_id", "get")
    assert_conforms(spec, raw.get("/orders", {"status": "all"}), "/v2/orders", "get")
    assert_conforms(spec, raw.get_all_positions(), "/v2/positions", "get")
    assert_conforms(spec, raw.get_open_position("AAPL"), "/v2/positions/{symbol_or_asset_id}", "get")
    assert_conforms(spec, raw.get_account(), "/v2/account", "get")
    assert_conforms(spec, raw.get_clock(), "/v2/clock", "get")
    assert_conforms(spec, raw.get_all_assets(), "/v2/assets", "get")
    assert_conforms(spec, raw.get_asset("SIRI"), "/v2/assets/{symbol_or_asset_id}", "get")
    assert_conforms(spec, raw.get("/account/activities"), "/v2/account/activities", "get", formats=False)
    assert_conforms(spec, raw.get("/account/activities/FILL"), "/v2/account/activities", "get")
    assert_conforms(spec, raw.get("/account/configurations"), "/v2/account/configurations", "get")
    assert_conforms(spec, raw.cancel_orders(), "/v2/orders", "delete", "207")
    assert_conforms(spec, raw.close_position("AAPL"), "/v2/positions/{symbol_or_asset_id}", "delete")


def test_calendar_when_a_week_then_validates_against_alpacas_spec(broker, spec):
    raw = no_retry(TradingClient(broker.key, broker.secret, raw_data=True, url_override=broker.url))

    days = raw.get("/calendar", {"start": "2026-01-05", "end": "2026-01-09"})

    assert len(days) == 5
    assert_conforms(spec, days, "/v2/calendar", "get")
