"""Wiring of risk-service: settings, subscriptions and handlers in one place."""

from __future__ import annotations

from tradebus_contracts.subjects import subject_filter
from tradebus_runtime import ConsumerSpec, ServiceApp, ServiceSettings
from tradebus_runtime.inbox import recording_handler

SERVICE = "risk-service"


class RiskSettings(ServiceSettings):
    pass


def build_app(settings: RiskSettings | None = None) -> ServiceApp:
    app = ServiceApp(SERVICE, settings or RiskSettings())
    app.consume(
        ConsumerSpec(stream="ORDERS", durable=SERVICE, filter_subjects=(subject_filter("orders.requested"),),
                     description="order requests to check"),
        recording_handler(app, "risk.order_request_received"),
    )
    return app
