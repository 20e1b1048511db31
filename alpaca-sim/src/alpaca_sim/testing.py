"""Run a simulator inside the current process (in a background thread) for tests of any package."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette

from .app import SimSettings, Simulator, create_app


@dataclass(frozen=True)
class RunningSimulator:
    url: str
    stream_url: str
    app: Starlette

    @property
    def sim(self) -> Simulator:
        """The live simulator; after /admin/reset it holds a fresh broker, so always go through this."""
        return self.app.state.sim


@contextlib.contextmanager
def simulator_in_thread(settings: SimSettings | None = None, host: str = "127.0.0.1") -> Iterator[RunningSimulator]:
    app = create_app(settings or SimSettings())
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="alpaca-sim")
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("alpaca-sim did not start")
        time.sleep(0.01)
    try:
        yield RunningSimulator(f"http://{host}:{port}", f"ws://{host}:{port}/stream", app)
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()


class StreamRecorder:
    """A real TradingStream in a background thread, recording every TradeUpdate it hands to its handler."""

    def __init__(self, key: str, secret: str, url: str) -> None:
        self.updates: list[Any] = []
        self._lock = threading.Lock()
        from alpaca.trading.stream import TradingStream  # alpaca-py is a test dependency, not the simulator's

        self.stream = TradingStream(key, secret, paper=True, url_override=url)
        self.stream.subscribe_trade_updates(self._record)
        self.thread = threading.Thread(target=self.stream.run, daemon=True, name="trade-updates")

    async def _record(self, update: Any) -> None:
        with self._lock:
            self.updates.append(update)

    def for_order(self, order_id: Any) -> list[Any]:
        with self._lock:
            return [u for u in self.updates if str(u.order.id) == str(order_id)]

    def events(self, order_id: Any) -> list[str]:
        return [str(getattr(u.event, "value", u.event)) for u in self.for_order(order_id)]

    def start(self) -> StreamRecorder:
        self.thread.start()
        return self

    def wait_listening(self, running: RunningSimulator, timeout: float = 10.0) -> None:
        wait_for(lambda: running.sim.hub.connections > 0, timeout=timeout)

    def stop(self) -> None:
        loop = self.stream._loop
        if loop is None or not loop.is_running():
            return
        asyncio.run_coroutine_threadsafe(self.stream.stop_ws(), loop).result(timeout=5)
        asyncio.run_coroutine_threadsafe(self.stream.close(), loop).result(timeout=5)
        self.thread.join(timeout=6)


def wait_for(condition, timeout: float = 5.0, interval: float = 0.02):
    """Poll until condition() is truthy and return its value; AssertionError after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


def wait_filled(client, order_id=None, *, client_order_id=None, timeout: float = 5.0):
    """The order (through alpaca-py) once the broker reports it filled; by id or by client_order_id."""
    def fetch():
        return client.get_order_by_id(order_id) if client_order_id is None else \
            client.get_order_by_client_id(client_order_id)

    return wait_for(lambda: (o := fetch()).status == "filled" and o, timeout)


def no_retry(client):
    """alpaca-py's REST clients retry 429 and 504 three times, 3 s apart; tests of those want the first answer."""
    client._retry = 0
    client._retry_codes = []
    return client
