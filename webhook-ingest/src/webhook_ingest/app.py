"""Wiring of webhook-ingest: the HTTP app inside the service shell."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tradebus_runtime import ServiceApp, ServiceSettings
from tradebus_runtime.http import add_http_server
from tradebus_runtime.settings import load_settings

SERVICE = "webhook-ingest"


class WebhookSettings(ServiceSettings):
    webhook_host: str = "127.0.0.1"
    webhook_port: int = 8001


async def fills(_: Request) -> JSONResponse:
    return JSONResponse(
        {"code": 50300000, "message": "fill webhooks are not enabled in this version of webhook-ingest"},
        status_code=503,
    )


def http_app() -> Starlette:
    return Starlette(routes=[Route("/webhooks/fills", fills, methods=["POST"])])


def build_app(settings: WebhookSettings | None = None) -> ServiceApp:
    settings = settings or load_settings(WebhookSettings, SERVICE)
    app = ServiceApp(SERVICE, settings)
    add_http_server(app, http_app(), settings.webhook_host, settings.webhook_port)
    return app
