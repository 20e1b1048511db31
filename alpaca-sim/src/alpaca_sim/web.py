"""HTTP plumbing shared by the route modules: JSON in and out, Alpaca error bodies, the route guard."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from functools import wraps
from typing import Any, Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .errors import BrokerError, invalid
from .guards import fault_error
from .logs import log

Handler = Callable[[Request, Any], Awaitable[Any]]


def error_response(error: BrokerError) -> JSONResponse:
    body = error.body()
    headers = body.pop("_headers", None)
    return JSONResponse(body, status_code=error.status, headers=headers)


def internal_error() -> JSONResponse:
    return JSONResponse({"code": 50010000, "message": "internal server error"}, status_code=500)


async def read_json(request: Request, default: Any = None) -> Any:
    """The body as JSON, its numbers as Decimals with every digit as sent: a float would turn a qty of
    ``1.000000000000000000000000000001`` into 1.0, which passes the 9-decimal rule Alpaca enforces."""
    raw = await request.body()
    if not raw.strip():
        return default
    try:
        return json.loads(raw, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        raise BrokerError(400, 40010000, "request body format is invalid") from None


def as_response(result: Any) -> Response:
    return result if isinstance(result, Response) else JSONResponse(result)


def route_of(request: Request) -> str:
    """The request as its route: method and path with each path parameter's value replaced by its name
    ("GET /v2/orders/{order_id}"), so calls about different orders count as one kind."""
    path = request.url.path
    for name, value in request.path_params.items():
        if value:
            path = path.replace(f"/{value}", f"/{{{name}}}", 1)
    return f"{request.method} {path}"


def alpaca_route(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Injected faults (latency, failure before or after the effect), then credentials, then the rate limit."""

    @wraps(handler)
    async def endpoint(request: Request) -> Response:
        sim = request.app.state.sim
        sim.requests[route_of(request)] += 1
        fault = sim.faults.take(request.method, request.url.path)
        if fault is not None and fault.delay_ms:
            await asyncio.sleep(fault.delay_ms / 1000)
        headers: dict[str, str] = {}
        try:
            if fault is not None:
                log.info("fault_injected", method=request.method, path=request.url.path, fault=fault.to_json())
            if fault is not None and fault.status and not fault.after_effect:
                raise fault_error(fault.status)
            key = sim.credentials.check(
                request.headers.get("APCA-API-KEY-ID"), request.headers.get("APCA-API-SECRET-KEY")
            )
            headers = sim.rate_limiter.hit(key)
            response = as_response(await handler(request, sim))
            if fault is not None and fault.status and fault.after_effect:
                raise fault_error(fault.status)
        except BrokerError as error:
            log.info("request_refused", method=request.method, path=request.url.path, status=error.status,
                     code=error.code, reason=error.message)
            response = error_response(error)
        except Exception:  # a bug must still answer in Alpaca's shape, and be visible in the log
            log.exception("request_crashed", method=request.method, path=request.url.path)
            response = internal_error()
        finally:
            sim.persist()
        response.headers.update(headers)
        return response

    return endpoint


def admin_route(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """The test-control API: no credentials, no faults, same error shape."""

    @wraps(handler)
    async def endpoint(request: Request) -> Response:
        sim = request.app.state.sim
        try:
            response = as_response(await handler(request, sim))
        except BrokerError as error:
            response = error_response(error)
        except Exception:
            log.exception("request_crashed", method=request.method, path=request.url.path)
            response = internal_error()
        finally:
            sim.persist()
        return response

    return endpoint


def query_int(params: Any, name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid(f"invalid {name}") from None
    if not low <= value <= high:
        raise invalid(f"{name} must be between {low} and {high}")
    return value


def query_choice(params: Any, name: str, allowed: tuple[str, ...], default: str) -> str:
    value = (params.get(name) or default).lower()
    if value not in allowed:
        raise invalid(f"invalid {name}: {value}")
    return value
