"""Wires the broker core to HTTP: the Simulator (state, persistence, fan-out) and the Starlette app."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from . import admin_routes, marketdata_routes, marketdata_stream, stream, trading_routes
from .broker import Broker
from .guards import Credentials, FaultBook, RateLimiter
from .ledger import DEFAULT_CASH
from .logs import log, trade_update_logged
from .market import in_regular_session
from .marketdata_stream import MarketDataHub
from .persistence import StateFile, load
from .stream import StreamHub
from .webhooks import WebhookDispatcher


@dataclass(frozen=True)
class SimSettings:
    seed: int = 0
    state_file: Path | None = None
    key_id: str | None = None
    secret_key: str | None = None
    rate_limit: int = 200
    tick_seconds: float = 0.5
    cash: Decimal = DEFAULT_CASH
    market_open: bool = True
    real_hours: bool = False
    cancel_delay_ms: int = 0
    webhook_retry_scale: float = 1.0  # multiplies the Standard Webhooks retry schedule (tests compress it)


class Simulator:
    """Everything one running simulator holds; the routes reach it as request.app.state.sim."""

    def __init__(self, settings: SimSettings) -> None:
        self.settings = settings
        self.credentials = Credentials(settings.key_id, settings.secret_key)
        self.rate_limiter = RateLimiter(settings.rate_limit)
        self.requests: Counter[str] = Counter()  # "GET /v2/orders/{order_id}" -> calls: what a client costs
        self.faults = FaultBook()
        self.hub = StreamHub()
        self.marketdata = MarketDataHub(self.faults)  # outlives /admin/reset, like open sockets do
        self.webhooks = WebhookDispatcher(settings.webhook_retry_scale)
        self.broker = self._new_broker()
        self.clock_overridden = False
        self.cancel_delay_ms = settings.cancel_delay_ms
        self._saved_version = self.broker.version
        self.state = StateFile(settings.state_file) if settings.state_file is not None else None
        if settings.state_file is not None and load(self.broker, settings.state_file):
            self.broker.complete_pending_cancels()  # their timers died with the previous process
            log.info("state_restored", state_file=str(settings.state_file), orders=len(self.broker.orders))

    def _new_broker(self) -> Broker:
        broker = Broker(seed=self.settings.seed, cash=self.settings.cash)
        broker.clock.is_open = in_regular_session(broker.now()) if self.settings.real_hours else self.settings.market_open
        broker.listeners.append(self._publish_to_stream)
        broker.listeners.append(self.webhooks.publish)
        broker.listeners.append(trade_update_logged)
        broker.feed.quote_listeners.append(self.marketdata.on_quote)
        broker.feed.trade_listeners.append(self.marketdata.on_trade)
        return broker

    def _publish_to_stream(self, update: dict) -> None:
        if self.faults.take("GET", "/stream", after_effect=True) is not None:
            return  # an injected silent websocket: the update is lost for streaming clients only
        self.hub.publish(update)

    def reset(self) -> None:
        log.info("sim_reset")
        self.broker = self._new_broker()
        self.faults.clear()
        self.rate_limiter.reset()
        self.requests.clear()
        self.webhooks.clear()
        self.clock_overridden = False
        self.cancel_delay_ms = self.settings.cancel_delay_ms
        self._saved_version = -1

    def schedule_matching(self, symbol: str) -> None:
        """Match right after the response is computed: like Alpaca, a submit answers before it fills."""
        def run() -> None:
            self.broker.match_symbol(symbol)
            self.persist()

        asyncio.get_running_loop().call_soon(run)

    def cancel(self, order_id: str) -> None:
        """DELETE /v2/orders/{id}: done at once, or after cancel_delay_ms in pending_cancel (fills can still land)."""
        order = self.broker.cancel(order_id, complete=not self.cancel_delay_ms)
        if self.cancel_delay_ms:
            self._complete_cancel_later(order.id)

    def cancel_all(self) -> list[dict]:
        results = self.broker.cancel_all(complete=not self.cancel_delay_ms)
        if self.cancel_delay_ms:
            for result in results:
                self._complete_cancel_later(result["id"])
        return results

    def _complete_cancel_later(self, order_id: str) -> None:
        def run() -> None:
            self.broker.complete_cancel(order_id)
            self.persist()

        asyncio.get_running_loop().call_later(self.cancel_delay_ms / 1000, run)

    def persist(self, force: bool = False) -> None:
        """Save what changed since the last save (a line appended to the state file: see StateFile)."""
        if self.state is None or (not force and self.broker.version == self._saved_version):
            return
        self.state.save(self.broker)
        self._saved_version = self.broker.version

    async def run_ticker(self) -> None:
        while True:
            await asyncio.sleep(self.settings.tick_seconds)
            try:
                if self.settings.real_hours and not self.clock_overridden:
                    self.broker.set_market_open(in_regular_session(self.broker.now()))
                self.broker.tick()
                self.persist()
            except Exception:
                log.exception("tick_failed")


async def _not_found(request: Request, exc: HTTPException) -> JSONResponse:
    if exc.status_code == 405:
        return JSONResponse({"code": 40510000, "message": "method not allowed"}, status_code=405)
    return JSONResponse({"code": 40410000, "message": "endpoint not found"}, status_code=exc.status_code)


def create_app(settings: SimSettings | None = None) -> Starlette:
    sim = Simulator(settings or SimSettings())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        ticker = asyncio.create_task(sim.run_ticker())
        try:
            yield
        finally:
            ticker.cancel()
            await sim.webhooks.close()
            sim.persist(force=True)

    app = Starlette(
        routes=[*trading_routes.ROUTES, *marketdata_routes.ROUTES, *admin_routes.ROUTES, *stream.ROUTES,
                *marketdata_stream.ROUTES],
        exception_handlers={HTTPException: _not_found},
        lifespan=lifespan,
    )
    app.state.sim = sim
    return app
