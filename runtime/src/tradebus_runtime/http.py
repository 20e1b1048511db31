"""Serving an ASGI app (Starlette/FastAPI) inside a `ServiceApp`, for the services that speak HTTP.

Needs the ``http`` extra (uvicorn). The server runs on the service's event loop as a background task; health
reports it only once uvicorn is actually listening, and shutdown asks uvicorn to finish in-flight requests.
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn

from .service import ServiceApp


def add_http_server(app: ServiceApp, asgi_app: Any, host: str, port: int) -> uvicorn.Server:
    config = uvicorn.Config(
        asgi_app,
        host=host,
        port=port,
        log_config=None,  # our structlog handler on the root logger formats uvicorn's records
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=3,
    )
    server = uvicorn.Server(config)
    # uvicorn installs its own signal handlers in serve(); the ServiceApp owns signals.
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]

    stopped = asyncio.Event()

    async def run_http(_: ServiceApp) -> None:
        try:
            await server.serve()
        finally:
            stopped.set()
        if not server.should_exit:
            raise RuntimeError(f"HTTP server on {host}:{port} stopped unexpectedly")

    async def stop_http(_: ServiceApp) -> None:
        """Let uvicorn finish in-flight requests (it never resets ``started``: wait for serve() to return)."""
        server.should_exit = True
        try:
            await asyncio.wait_for(stopped.wait(), timeout=4)
        except TimeoutError:
            server.force_exit = True

    async def listening() -> bool:
        return bool(server.started)

    run_http.__name__ = "http_server"
    app.background(run_http)
    app.on_shutdown(stop_http)
    app.on_startup(_add_check(listening))
    return server


def _add_check(check: Any) -> Any:
    async def register(app: ServiceApp) -> None:
        assert app.health is not None
        app.health.add_check("http", check)

    return register
