"""Wiring of position-sync-service: settings, subscriptions and handlers in one place."""

from __future__ import annotations

from tradebus_contracts.subjects import subject_filter
from tradebus_runtime import ConsumerSpec, ServiceApp, ServiceSettings
from tradebus_runtime.inbox import recording_handler
from tradebus_runtime.settings import load_settings

SERVICE = "position-sync-service"


class PositionSyncSettings(ServiceSettings):
    pass


def build_app(settings: PositionSyncSettings | None = None) -> ServiceApp:
    app = ServiceApp(SERVICE, settings or load_settings(PositionSyncSettings, SERVICE))
    app.consume(
        ConsumerSpec(stream="FILLS", durable=SERVICE, filter_subjects=(subject_filter("fills"),), description="fills for the ledger"),
        recording_handler(app, "positions.fill_received"),
    )
    return app
