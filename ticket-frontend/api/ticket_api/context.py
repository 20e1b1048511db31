"""What the routes need at run time, built complete by the bootstrap (``app.build_app``) from open connections.

`Ticket` holds the settings, the connected `Bus`, the `ReadModel` over the migrated pool, the running
reference-data mirror and the followed kill switch (`TradingStateFollower`, the risk service's own); nothing in it is filled in later. The routes receive it as a FastAPI dependency
(``routes.TicketDep``). Here too: the deterministic event ids that make a double click one message.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import NAMESPACE_URL, UUID, uuid5

from tradebus_runtime import Bus
from tradebus_runtime.refdata import RefDataMirror
from tradebus_runtime.trading_state import TradingStateFollower

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


@dataclass(frozen=True)
class Ticket:
    settings: TicketSettings
    bus: Bus
    read_model: ReadModel
    refdata: RefDataMirror
    trading: TradingStateFollower
