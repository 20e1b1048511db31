"""Wiring of order-gateway: settings, subscriptions and handlers in one place."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tradebus_contracts.subjects import subject_filter
from tradebus_runtime import ConsumerSpec, ServiceApp, ServiceSettings, get_logger
from tradebus_runtime.inbox import recording_handler
from tradebus_runtime.settings import load_settings

SERVICE = "order-gateway"
log = get_logger(__name__)


class GatewaySettings(ServiceSettings):
    mode: Literal["paper", "live"] = Field(default="paper", validation_alias="TRADEBUS_MODE")
    broker_url: str = "https://paper-api.alpaca.markets"


def build_app(settings: GatewaySettings | None = None) -> ServiceApp:
    settings = settings or load_settings(GatewaySettings, SERVICE)
    app = ServiceApp(SERVICE, settings)
    app.consume(
        ConsumerSpec(stream="RISK", durable=SERVICE, filter_subjects=(subject_filter("risk.approved"),),
                     description="signed approvals to submit"),
        recording_handler(app, "gateway.approval_received"),
    )
    app.consume(
        ConsumerSpec(stream="ORDERS", durable=f"{SERVICE}-cancel", filter_subjects=(subject_filter("orders.cancel"),),
                     description="cancel requests"),
        recording_handler(app, "gateway.cancel_request_received"),
    )

    async def announce_mode(_: ServiceApp) -> None:
        log.warning("gateway.mode", mode=settings.mode, broker_url=settings.broker_url, submits_orders=False)

    app.on_startup(announce_mode)
    return app
