"""Serving an ASGI app (Starlette/FastAPI) inside a service, for the services that speak HTTP.

Needs the ``http`` extra (uvicorn). The server runs on the service's event loop as a background task; health
reports it only once uvicorn is actually listening, and shutdown asks uvicorn to finish in-flight requests.
A bootstrap adds ``HttpServer(app, host, port).wiring()`` to its own `Wiring`.
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn

from .service import Wiring

_STOP_WAIT_S = 4.0


class HttpServer:
    def __init__(self, asgi_app: Any, host: str, port: int) -> None:
        self.host = host
        self.port = port
        config = uvicorn.Config(
            asgi_app,
            host=host,
            port=port,
            log_config=None,  # our structlog handler on the root logger formats uvicorn's records
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=3,
        )
        self._server = uvicorn.Server(config)
        # uvicorn installs its own signal handlers in serve(); the service shell owns signals.
        self._server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self._stopped = asyncio.Event()

    def wiring(self) -> Wiring:
        return Wiring(background={"http_server": self.serve}, checks={"http": self.listening}, on_stop=[self.stop])

    async def serve(self) -> None:
        try:
            await self._server.serve()
        finally:
            self._stopped.set()
        if not self._server.should_exit:
            raise RuntimeError(f"HTTP server on {self.host}:{self.port} stopped unexpectedly")

    async def stop(self) -> None:
        """Let uvicorn finish in-flight requests (it never resets ``started``: wait for serve() to return)."""
        self._server.should_exit = True
        try:
            await asyncio.wait_for(self._stopped.wait(), timeout=_STOP_WAIT_S)
        except TimeoutError:
            self._server.force_exit = True

    async def listening(self) -> bool:
        return bool(self._server.started)
