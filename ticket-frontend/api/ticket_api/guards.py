"""What stands between a request and the routes, so that bad input is always a 4xx with a short message.

* `BodyLimit`: a body over ``MAX_BODY_BYTES`` (64 KiB; an order is a few hundred bytes) is answered 413 as soon
  as its ``Content-Length`` says so, or, without one, as soon as the bytes read pass the limit; it is never read
  whole. A body within the limit is read once and handed on unchanged.
* `ExactJsonRoute`: bodies decoded with exact decimals. A JSON number becomes a ``Decimal`` with every digit as sent
  (``1.000000000000000000000000000001`` stays 30 decimals, so risk refuses it: QTY_TOO_MANY_DECIMALS), never a float
  rounded to 17 digits; ``NaN`` and ``Infinity`` become non-finite Decimals, which every decimal field refuses (422
  naming the field).
* `validation_error`: FastAPI's 422, with every error kept to its location, message, type and an excerpt of the
  input. FastAPI's own handler echoes the whole input (a 60 KiB string comes back whole), and failed to encode a
  JSON ``NaN``, ``Infinity`` or ``1e400`` (then read as non-finite floats), which turned a refused order into a 500.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["MAX_BODY_BYTES", "BodyLimit", "ExactJsonRoute", "validation_error", "excerpt"]

MAX_BODY_BYTES = 64 * 1024
EXCERPT_CHARS = 40
MAX_ERRORS = 20


class BodyLimit:
    """ASGI middleware: 413 for a request body over ``max_bytes``, without reading it whole."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: nothing to answer
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        await self.app(scope, _replay(b"".join(chunks), receive), send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse({"detail": f"the request body is larger than {self.max_bytes} bytes"},
                                status_code=413, headers={"connection": "close"})
        await response(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body already read, once; then whatever the client sends next (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


class _ExactJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = json.loads(await self.body(), parse_float=Decimal, parse_constant=Decimal)
        return self._json


class ExactJsonRoute(APIRoute):
    """A route whose JSON body is read with exact decimals (FastAPI's own reading goes through ``Request.json``)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def exact(request: Request) -> Response:
            return await handle(_ExactJsonRequest(request.scope, request.receive))

        return exact


async def validation_error(_: Request, exc: Exception) -> JSONResponse:
    """422 with at most ``MAX_ERRORS`` errors, each naming its field and quoting no more than an excerpt."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    detail = [{"loc": [p if isinstance(p, int) else excerpt(p) for p in e.get("loc", ())],
               "msg": excerpt(e.get("msg", ""), 300), "type": excerpt(e.get("type", ""), 64),
               "input": excerpt(e.get("input"))} for e in errors[:MAX_ERRORS]]
    return JSONResponse({"detail": detail}, status_code=422)


def excerpt(value: Any, limit: int = EXCERPT_CHARS) -> str:
    """A short, always-encodable rendering of any input value."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, Decimal):
        text = str(value)  # "1E+400", "NaN": short, where the plain notation of a huge exponent is not
    elif isinstance(value, float) and not math.isfinite(value):
        text = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    else:
        try:
            text = json.dumps(value, default=repr)
        except ValueError:  # e.g. an int too long to print
            text = type(value).__name__
    return text if len(text) <= limit else text[:limit] + "…"
