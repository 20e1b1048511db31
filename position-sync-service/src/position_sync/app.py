"""Wiring of position-sync-service: settings, subscriptions and handlers in one place."""

from __future__ import annotations

from nats.aio.msg import Msg

from tradebus_contracts import Envelope
from tradebus_contracts.services import Service
from tradebus_contracts.subjects import subject_filter
from tradebus_runtime import ConsumerSpec, Handler, ServiceApp, ServiceSettings, Subscription, Wiring, get_logger
from tradebus_runtime.inbox import record
from tradebus_runtime.service import Connections
from tradebus_runtime.settings import load_settings

SERVICE = Service.POSITION_SYNC
log = get_logger(__name__)


class PositionSyncSettings(ServiceSettings):
    pass


def keep_in_inbox(io: Connections, event_name: str) -> Handler:
    """Takes events into the inbox and logs them, and does nothing else — until the ledger lands, fills are kept
    (durably, de-duplicated) instead of being dropped, and the log says plainly that nothing acted on them."""

    async def handle(event: Envelope, msg: Msg) -> None:
        first = await record(io.pool, event, msg.subject, msg.data)
        log.info(event_name, event_type=event.event_type, correlation_id=event.correlation_id,
                 duplicate=not first, acted_on=False)

    return handle


async def bootstrap(io: Connections) -> Wiring:
    spec = ConsumerSpec(stream="FILLS", durable=SERVICE, filter_subjects=(subject_filter("fills"),),
                        description="fills for the ledger")
    return Wiring(consumers=[Subscription(spec, keep_in_inbox(io, "positions.fill_received"))])


def build_app(settings: PositionSyncSettings | None = None) -> ServiceApp:
    return ServiceApp(SERVICE, settings or load_settings(PositionSyncSettings, SERVICE), bootstrap)
