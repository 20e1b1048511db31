"""The HTTP edge: ``POST /webhooks/fills`` and ``GET /openapi.json`` (Starlette).

The body is read in chunks up to the limit and never beyond: a declared ``Content-Length`` over it is answered 413
before a byte is read, and a chunked body is cut off the moment it passes the limit. What was read goes to the
intake as raw bytes (verification is over exactly those). Every answer is JSON; errors are ``{"code", "message"}``.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .intake import Intake
from .openapi import OPENAPI


def http_app(intake: Intake, max_body_bytes: int) -> Starlette:
    too_large = {"code": "BODY_TOO_LARGE", "message": f"the body is larger than {max_body_bytes} bytes"}

    async def fills(request: Request) -> JSONResponse:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_body_bytes:
            return JSONResponse(too_large, status_code=413)
        body = bytearray()
        try:
            async for chunk in request.stream():
                body += chunk
                if len(body) > max_body_bytes:
                    return JSONResponse(too_large, status_code=413)
        except ClientDisconnect:
            return JSONResponse({"code": "CLIENT_GONE", "message": "the client went away"}, status_code=400)
        answer = await intake.receive(request.headers, bytes(body))
        return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)

    async def openapi(_: Request) -> JSONResponse:
        return JSONResponse(OPENAPI)

    async def not_found(_: Request, exc: Exception) -> JSONResponse:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        code = "METHOD_NOT_ALLOWED" if status == 405 else "NOT_FOUND"
        return JSONResponse({"code": code, "message": "only POST /webhooks/fills and GET /openapi.json exist"},
                            status_code=status)

    return Starlette(
        routes=[Route("/webhooks/fills", fills, methods=["POST"]), Route("/openapi.json", openapi, methods=["GET"])],
        exception_handlers={HTTPException: not_found},
    )
