"""What the routes need at run time (NATS, the read model, the reference-data mirror), built once at start-up.

`Ticket.attach` takes a connected `Bus` and a migrated pool: the `ServiceApp` gives them in production
(`app.build_app`), tests give their own. Until then every route that needs them answers 503.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import NAMESPACE_URL, UUID, uuid5

import asyncpg
from nats.aio.msg import Msg

from tradebus_contracts.envelope import Envelope
from tradebus_runtime import Bus
from tradebus_runtime.refdata import RefDataMirror

from .readmodel import ReadModel
from .settings import TicketSettings

PRODUCER = "ticket-api"
_EVENT_IDS = uuid5(NAMESPACE_URL, "urn:tradebus:ticket-api:event-ids")


def order_requested_event_id(order_id: UUID) -> UUID:
    """Deterministic per order: a double click publishes the same event twice and JetStream keeps one."""
    return uuid5(_EVENT_IDS, f"OrderRequested:{order_id}")


def cancel_requested_event_id(order_id: UUID, attempt: int) -> UUID:
    """Deterministic per cancel attempt (attempt = cancel results seen so far): a double click is one cancel,
    while a new try after a failed cancel is a new request."""
    return uuid5(_EVENT_IDS, f"CancelRequested:{order_id}:{attempt}")


@dataclass
class Ticket:
    settings: TicketSettings
    refdata: RefDataMirror = field(default_factory=RefDataMirror)
    bus: Bus | None = None
    read_model: ReadModel | None = None

    async def attach(self, bus: Bus, pool: asyncpg.Pool) -> None:
        self.bus = bus
        self.read_model = ReadModel(pool)
        await self.refdata.start(bus.js)

    async def detach(self) -> None:
        await self.refdata.stop()

    async def handle(self, event: Envelope, msg: Msg) -> None:
        """The read model consumers' handler."""
        assert self.read_model is not None
        await self.read_model.handle(event, msg)
