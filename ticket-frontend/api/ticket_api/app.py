"""Wiring of the ticket API in one place: the bootstrap builds the complete `Ticket` from the open connections, the
FastAPI app around it, the read model's consumers, the reference-data mirror and the kill switch's follower."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from tradebus_contracts.services import Service
from tradebus_runtime import Connections, ServiceApp, Subscription, Wiring
from tradebus_runtime.http import HttpServer
from tradebus_runtime.refdata import RefDataMirror
from tradebus_runtime.settings import load_settings
from tradebus_runtime.trading_state import TradingStateFollower

from .context import Ticket
from .guards import BodyLimit, validation_error
from .readmodel import ReadModel, consumer_specs
from .routes import router
from .settings import DIST, TicketSettings

SERVICE = Service.TICKET_API

__all__ = ["SERVICE", "DIST", "TicketSettings", "Ticket", "http_app", "build_app"]


def http_app(ticket: Ticket) -> FastAPI:
    """The API (``/api``, every route given ``ticket``) and the built frontend at ``/``; bad input is a 4xx with a
    short message (``guards``)."""
    settings = ticket.settings
    api = FastAPI(title="tradebus ticket API", version="0.3.0",
                  description="The trade ticket's API (DESIGN §7): status, quotes, preview, orders, cancels, "
                              "positions, live events. Decimals are strings.")
    api.state.ticket = ticket
    api.add_middleware(BodyLimit)
    api.add_exception_handler(RequestValidationError, validation_error)
    api.include_router(router)

    if (settings.frontend_dist / "index.html").exists():
        api.mount("/", StaticFiles(directory=settings.frontend_dist, html=True), name="frontend")
    else:

        @api.get("/", response_class=HTMLResponse, include_in_schema=False)
        async def not_built() -> str:
            return (
                f"<!doctype html><title>tradebus</title><h1>{settings.mode.upper()} TRADING</h1>"
                "<p>The trade ticket has not been built in this checkout yet. The API is at "
                "<a href='/docs'>/docs</a>.</p>"
            )

    return api


def build_app(settings: TicketSettings | None = None) -> ServiceApp:
    settings = settings or load_settings(TicketSettings, SERVICE)

    async def bootstrap(io: Connections) -> Wiring:
        refdata = RefDataMirror()
        await refdata.start(io.bus.js)
        trading = TradingStateFollower()
        await trading.start(io.bus.nc)
        ticket = Ticket(settings, io.bus, ReadModel(io.pool), refdata, trading)

        async def refdata_alive() -> bool:
            return refdata.alive

        http = HttpServer(http_app(ticket), settings.ticket_host, settings.ticket_port)
        return Wiring(consumers=[Subscription(spec, ticket.read_model.handle) for spec in consumer_specs()],
                      checks={"refdata_watch": refdata_alive}, on_stop=[trading.stop, refdata.stop]) + http.wiring()

    return ServiceApp(SERVICE, settings, bootstrap, migrations_package="ticket_api")
