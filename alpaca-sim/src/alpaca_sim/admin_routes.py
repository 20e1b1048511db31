"""The /admin/ test-control API of DESIGN §6 (not part of Alpaca's API; no credentials)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .errors import invalid
from .guards import parse_fault
from .portfolio import corporate_action
from .web import admin_route, read_json


def _object(body) -> dict:
    if not isinstance(body, dict):
        raise invalid("request body must be a JSON object")
    return body


async def health(request: Request, sim):
    return {"status": "ok"}


async def put_quote(request: Request, sim):
    body = _object(await read_json(request, default={}))
    return sim.broker.set_quote(request.path_params["symbol"], body.get("bid"), body.get("ask"))


async def get_quote(request: Request, sim):
    from .marketdata_routes import quote_json  # the data API's own shape, for humans poking at it

    asset = sim.broker.asset(request.path_params["symbol"])
    return {"symbol": asset.symbol, "quote": quote_json(sim, asset.symbol)}


async def add_fault(request: Request, sim):
    fault = parse_fault(await read_json(request, default={}))
    sim.faults.add(fault)
    if fault.status and not fault.after_effect and fault.matches("GET", "/stream"):
        await sim.hub.drop_all()
    if fault.status and not fault.after_effect:
        await sim.marketdata.drop(fault)  # the market-data sockets its path matches (/v2/iex, ...)
    return fault.to_json()


async def list_faults(request: Request, sim):
    return [f.to_json() for f in sim.faults.faults]


async def list_requests(request: Request, sim):
    """Every request of the Alpaca API served since the start (or the last DELETE), by route."""
    return {"total": sum(sim.requests.values()), "by_route": dict(sorted(sim.requests.items()))}


async def clear_requests(request: Request, sim):
    sim.requests.clear()
    return Response(status_code=204)


async def clear_faults(request: Request, sim):
    sim.faults.clear()
    return Response(status_code=204)


async def set_liquidity(request: Request, sim):
    body = _object(await read_json(request, default={}))
    result = sim.broker.set_liquidity(str(body.get("symbol") or ""), body.get("max_fill_qty"))
    return result


async def set_clock(request: Request, sim):
    body = _object(await read_json(request, default={}))
    is_open = body.get("is_open")
    if not isinstance(is_open, bool):
        raise invalid("is_open must be true or false")
    sim.clock_overridden = True  # with --real-hours, an explicit admin choice wins until /admin/reset
    sim.broker.set_market_open(is_open)
    return sim.broker.clock.to_json()


async def post_corporate_action(request: Request, sim):
    return corporate_action(sim.broker, await read_json(request, default={}))


async def add_webhook(request: Request, sim):
    body = _object(await read_json(request, default={}))
    return sim.webhooks.add(body.get("url"), body.get("secret"))


async def clear_webhooks(request: Request, sim):
    sim.webhooks.clear()
    return Response(status_code=204)


async def set_cancel_latency(request: Request, sim):
    body = _object(await read_json(request, default={}))
    delay = body.get("delay_ms")
    if isinstance(delay, bool) or not isinstance(delay, int) or not 0 <= delay <= 600_000:
        raise invalid("delay_ms must be an integer between 0 and 600000")
    sim.cancel_delay_ms = delay
    return {"delay_ms": delay}


async def reset(request: Request, sim):
    sim.reset()
    return {"status": "reset"}


ROUTES = [
    Route("/admin/health", admin_route(health), methods=["GET"]),
    Route("/admin/quotes/{symbol:path}", admin_route(put_quote), methods=["PUT"]),
    Route("/admin/quotes/{symbol:path}", admin_route(get_quote), methods=["GET"]),
    Route("/admin/faults", admin_route(add_fault), methods=["POST"]),
    Route("/admin/faults", admin_route(list_faults), methods=["GET"]),
    Route("/admin/faults", admin_route(clear_faults), methods=["DELETE"]),
    Route("/admin/requests", admin_route(list_requests), methods=["GET"]),
    Route("/admin/requests", admin_route(clear_requests), methods=["DELETE"]),
    Route("/admin/liquidity", admin_route(set_liquidity), methods=["POST"]),
    Route("/admin/clock", admin_route(set_clock), methods=["POST"]),
    Route("/admin/corporate_actions", admin_route(post_corporate_action), methods=["POST"]),
    Route("/admin/webhooks", admin_route(add_webhook), methods=["POST"]),
    Route("/admin/webhooks", admin_route(clear_webhooks), methods=["DELETE"]),
    Route("/admin/cancel_latency", admin_route(set_cancel_latency), methods=["POST"]),
    Route("/admin/reset", admin_route(reset), methods=["POST"]),
]
