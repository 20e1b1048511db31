"""Wiring of webhook-ingest: the HTTP app inside the service shell."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tradebus_contracts.services import Service
from tradebus_runtime import Connections, ServiceApp, ServiceSettings, Wiring
from tradebus_runtime.http import HttpServer
from tradebus_runtime.settings import load_settings

SERVICE = Service.WEBHOOK_INGEST


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

    async def bootstrap(_: Connections) -> Wiring:
        return HttpServer(http_app(), settings.webhook_host, settings.webhook_port).wiring()

    return ServiceApp(SERVICE, settings, bootstrap)
