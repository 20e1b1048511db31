"""The query parameters each Trading API route of the simulator honours, named against Alpaca's OpenAPI spec.

Every query parameter Alpaca's spec (``alpaca_mcp_server/specs/trading-api.json``) documents for a route the
simulator serves is either listed here — the route acts on it as the spec says — or refused by the route with
Alpaca's 422 ``{"code": 40010001, "message": ...}`` when sent; none is silently ignored (today every one is
honoured). A parameter the spec does
not document is ignored, as Alpaca ignores it. ``tests/test_sim_spec_parameters.py`` walks the spec against this
table, so a parameter Alpaca adds shows up as a failing test, not as a silent difference.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RouteParams:
    spec_path: str  # the route's path in Alpaca's spec (its path parameters are named differently here)
    honoured: frozenset[str]


def _p(spec_path: str, *names: str) -> RouteParams:
    return RouteParams(spec_path, frozenset(names))


_ACTIVITY_FILTERS = ("order_id", "date", "until", "after", "direction", "page_size", "page_token")

ROUTES: dict[tuple[str, str], RouteParams] = {
    ("POST", "/v2/orders"): _p("/v2/orders"),
    ("GET", "/v2/orders"): _p("/v2/orders", "status", "limit", "after", "until", "direction", "nested", "symbols",
                              "side", "asset_class", "before_order_id", "after_order_id"),
    ("DELETE", "/v2/orders"): _p("/v2/orders"),
    ("GET", "/v2/orders:by_client_order_id"): _p("/v2/orders:by_client_order_id", "client_order_id"),
    ("GET", "/v2/orders/{order_id}"): _p("/v2/orders/{order_id}", "nested"),
    ("PATCH", "/v2/orders/{order_id}"): _p("/v2/orders/{order_id}"),
    ("DELETE", "/v2/orders/{order_id}"): _p("/v2/orders/{order_id}"),
    ("GET", "/v2/positions"): _p("/v2/positions"),
    ("DELETE", "/v2/positions"): _p("/v2/positions", "cancel_orders"),
    ("GET", "/v2/positions/{symbol:path}"): _p("/v2/positions/{symbol_or_asset_id}"),
    ("DELETE", "/v2/positions/{symbol:path}"): _p("/v2/positions/{symbol_or_asset_id}", "qty", "percentage"),
    ("GET", "/v2/account"): _p("/v2/account"),
    ("GET", "/v2/account/configurations"): _p("/v2/account/configurations"),
    ("GET", "/v2/account/activities"): _p("/v2/account/activities", "activity_types", "category",
                                          *_ACTIVITY_FILTERS),
    ("GET", "/v2/account/activities/{activity_type}"): _p("/v2/account/activities/{activity_type}",
                                                          *_ACTIVITY_FILTERS),
    ("GET", "/v2/clock"): _p("/v2/clock"),
    ("GET", "/v2/calendar"): _p("/v2/calendar", "start", "end", "date_type"),
    ("GET", "/v2/assets"): _p("/v2/assets", "status", "asset_class", "exchange", "attributes"),
    ("GET", "/v2/assets/{symbol:path}"): _p("/v2/assets/{symbol_or_asset_id}"),
}
