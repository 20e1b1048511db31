"""Alpaca Trading API v2 routes, as alpaca-py's TradingClient calls them."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .errors import invalid, not_found
from .market import calendar
from .portfolio import (
    account_json,
    activities,
    activity_types,
    close_all_positions,
    close_position,
    position_json,
    positions_json,
)
from .web import alpaca_route, query_choice, query_int, read_json


def _timestamp(params, name: str) -> datetime | None:
    raw = params.get(name)
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.strip().replace(" ", "+").replace("Z", "+00:00"))
    except ValueError:
        raise invalid(f"invalid {name}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _flag(params, name: str) -> bool:
    raw = (params.get(name) or "false").lower()
    if raw not in ("true", "false"):
        raise invalid(f"invalid {name}")
    return raw == "true"


async def submit_order(request: Request, sim):
    order = sim.broker.submit(await read_json(request, default={}))
    sim.schedule_matching(order.symbol)
    return order.to_json()


ORDER_ASSET_CLASSES = ("us_equity", "us_option", "crypto", "crypto_perp", "treasury", "corporate", "global_equity",
                       "us_index", "us_equity_chain", "ipo", "all")
ASSET_ATTRIBUTES = ("ptp_no_exception", "ptp_with_exception", "ipo", "has_options", "options_late_close",
                    "fractional_eh_enabled", "overnight_tradable", "overnight_halted")


def _csv(params, name: str, allowed: tuple[str, ...]) -> set[str]:
    values = {v.strip().lower() for v in (params.get(name) or "").split(",") if v.strip()}
    unknown = sorted(values - set(allowed))
    if unknown:
        raise invalid(f"invalid {name}: {','.join(unknown)}")
    return values


def _order_bounds(params, sim) -> tuple[datetime | None, datetime | None]:
    """after/until (both exclusive, Alpaca's spec), or the creation time of before_order_id / after_order_id."""
    after, until = _timestamp(params, "after"), _timestamp(params, "until")
    before_id, after_id = params.get("before_order_id"), params.get("after_order_id")
    if before_id and after_id:
        raise invalid("before_order_id and after_order_id are mutually exclusive")
    if (before_id or after_id) and (after or until):
        raise invalid("before_order_id/after_order_id cannot be combined with after/until")
    for name, order_id in (("before_order_id", before_id), ("after_order_id", after_id)):
        if order_id:
            order = sim.broker.orders.get(order_id.strip().lower())
            if order is None:
                raise invalid(f"invalid {name}: order not found")
            if name == "before_order_id":
                until = order.created_at
            else:
                after = order.created_at
    # the broker core's until is inclusive; one microsecond (its clock's resolution) earlier makes it exclusive
    return after, until - timedelta(microseconds=1) if until else None


async def list_orders(request: Request, sim):
    params = request.query_params
    _flag(params, "nested")
    symbols = [s.strip().upper() for s in (params.get("symbols") or "").split(",") if s.strip()]
    side = params.get("side")
    if side not in (None, "", "buy", "sell"):
        raise invalid("invalid side")
    classes = _csv(params, "asset_class", ORDER_ASSET_CLASSES)
    after, until = _order_bounds(params, sim)
    orders = sim.broker.list_orders(
        status=query_choice(params, "status", ("open", "closed", "all"), "open"),
        limit=query_int(params, "limit", 50, 1, 500),
        after=after,
        until=until,
        direction=query_choice(params, "direction", ("asc", "desc"), "desc"),
        symbols=symbols or None,
        side=side or None,
    )
    if classes and not classes & {"us_equity", "all"}:
        return []  # every simulated order is a us_equity order
    return [o.to_json() for o in orders]


async def cancel_all_orders(request: Request, sim):
    return JSONResponse(sim.cancel_all(), status_code=207)


async def get_order(request: Request, sim):
    _flag(request.query_params, "nested")
    return sim.broker.get_order(request.path_params["order_id"]).to_json()


async def get_order_by_client_id(request: Request, sim):
    client_order_id = request.query_params.get("client_order_id")
    if not client_order_id:
        raise invalid("client_order_id is required")
    return sim.broker.get_by_client_order_id(client_order_id).to_json()


async def replace_order(request: Request, sim):
    order = sim.broker.replace(request.path_params["order_id"], await read_json(request, default={}))
    sim.schedule_matching(order.symbol)
    return order.to_json()


async def cancel_order(request: Request, sim):
    sim.cancel(request.path_params["order_id"])
    return Response(status_code=204)


async def list_positions(request: Request, sim):
    return positions_json(sim.broker)


async def get_position(request: Request, sim):
    return position_json(sim.broker, request.path_params["symbol"])


async def close_one_position(request: Request, sim):
    order = close_position(sim.broker, request.path_params["symbol"], dict(request.query_params))
    sim.schedule_matching(order.symbol)
    return order.to_json()


async def close_every_position(request: Request, sim):
    results = close_all_positions(sim.broker, _flag(request.query_params, "cancel_orders"))
    for symbol in {r["symbol"] for r in results}:
        sim.schedule_matching(symbol)
    return JSONResponse(results, status_code=207)


async def get_account(request: Request, sim):
    return account_json(sim.broker)


async def get_clock(request: Request, sim):
    return sim.broker.clock.to_json()


async def get_calendar(request: Request, sim):
    """start/end are trading dates, or settlement dates with date_type=SETTLEMENT."""
    params = request.query_params
    today = sim.broker.now().date()
    try:
        start = date.fromisoformat(params["start"][:10]) if params.get("start") else today - timedelta(days=30)
        end = date.fromisoformat(params["end"][:10]) if params.get("end") else today + timedelta(days=30)
    except ValueError:
        raise invalid("invalid start or end date") from None
    if (end - start).days > 366 * 10:
        raise invalid("date range must be at most 10 years")
    date_type = (params.get("date_type") or "TRADING").upper()
    if date_type not in ("TRADING", "SETTLEMENT"):
        raise invalid(f"invalid date_type: {params.get('date_type')}")
    if date_type == "TRADING":
        return calendar(start, end)
    days = calendar(start - timedelta(days=10), end)  # a settlement date follows its trading date by days
    return [d for d in days if start.isoformat() <= d["settlement_date"] <= end.isoformat()]


async def list_assets(request: Request, sim):
    params = request.query_params
    status = params.get("status")
    asset_class = params.get("asset_class")
    exchange = params.get("exchange")
    attributes = _csv(params, "attributes", ASSET_ATTRIBUTES)
    chosen = []
    for asset in sim.broker.assets.all():
        if status and asset.status != status or asset_class and asset_class != "us_equity":
            continue
        if exchange and asset.exchange != exchange:
            continue
        body = asset.to_json()
        if attributes and not attributes & set(body["attributes"]):
            continue  # Alpaca: assets with any of the given attributes
        chosen.append(body)
    return chosen


async def get_asset(request: Request, sim):
    asset = sim.broker.assets.find(request.path_params["symbol"])
    if asset is None:
        raise not_found("asset not found")
    return asset.to_json()


async def list_activities(request: Request, sim):
    params = request.query_params
    kinds = activity_types(params.get("activity_types"))
    return activities(sim.broker, kinds, dict(params), category=params.get("category") or None)


async def list_activities_of_type(request: Request, sim):
    kinds = activity_types(request.path_params["activity_type"])
    if kinds is None:
        raise invalid("invalid activity_type")
    return activities(sim.broker, kinds, dict(request.query_params))


async def get_account_configurations(request: Request, sim):
    return {
        "dtbp_check": "entry", "trade_confirm_email": "all", "suspend_trade": False, "no_shorting": False,
        "fractional_trading": True, "max_margin_multiplier": "1", "pdt_check": "entry",
        "ptp_no_exception_entry": False, "max_options_trading_level": 0,
    }


def _r(path: str, handler, methods: list[str]) -> Route:
    return Route(path, alpaca_route(handler), methods=methods)


ROUTES = [
    _r("/v2/orders", submit_order, ["POST"]),
    _r("/v2/orders", list_orders, ["GET"]),
    _r("/v2/orders", cancel_all_orders, ["DELETE"]),
    _r("/v2/orders:by_client_order_id", get_order_by_client_id, ["GET"]),
    _r("/v2/orders/{order_id}", get_order, ["GET"]),
    _r("/v2/orders/{order_id}", replace_order, ["PATCH"]),
    _r("/v2/orders/{order_id}", cancel_order, ["DELETE"]),
    _r("/v2/positions", list_positions, ["GET"]),
    _r("/v2/positions", close_every_position, ["DELETE"]),
    _r("/v2/positions/{symbol:path}", get_position, ["GET"]),
    _r("/v2/positions/{symbol:path}", close_one_position, ["DELETE"]),
    _r("/v2/account", get_account, ["GET"]),
    _r("/v2/account/configurations", get_account_configurations, ["GET"]),
    _r("/v2/account/activities", list_activities, ["GET"]),
    _r("/v2/account/activities/{activity_type}", list_activities_of_type, ["GET"]),
    _r("/v2/clock", get_clock, ["GET"]),
    _r("/v2/calendar", get_calendar, ["GET"]),
    _r("/v2/assets", list_assets, ["GET"]),
    _r("/v2/assets/{symbol:path}", get_asset, ["GET"]),
]
