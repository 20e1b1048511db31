"""Wiring of the ticket API: FastAPI app inside the service shell."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from tradebus_runtime import ServiceApp, ServiceSettings
from tradebus_runtime.http import add_http_server
from tradebus_runtime.settings import load_settings

SERVICE = "ticket-api"
DIST = Path(__file__).resolve().parents[2] / "dist"


class TicketSettings(ServiceSettings):
    ticket_host: str = "127.0.0.1"
    ticket_port: int = 8000
    mode: Literal["paper", "live"] = Field(default="paper", validation_alias="TRADEBUS_MODE")
    broker: Literal["simulator", "alpaca"] = Field(default="simulator", validation_alias="TRADEBUS_BROKER")
    frontend_dist: Path = DIST


class ModeOut(BaseModel):
    mode: Literal["paper", "live"]
    broker: Literal["simulator", "alpaca"]


def http_app(settings: TicketSettings) -> FastAPI:
    api = FastAPI(title="tradebus ticket API", version="0.1.0")

    @api.get("/api/mode", response_model=ModeOut)
    async def mode() -> ModeOut:
        return ModeOut(mode=settings.mode, broker=settings.broker)

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
    app = ServiceApp(SERVICE, settings)
    add_http_server(app, http_app(settings), settings.ticket_host, settings.ticket_port)
    return app
