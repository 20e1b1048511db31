"""Who publishes and who consumes what on the bus (DESIGN §4), as data.

One table, so the bus's contract document (``docs/asyncapi.yaml``, see ``asyncapi_export``) and the services'
NATS permissions are derived from the same facts instead of being written twice. ``tradectl tail`` and the AUDIT
stream read every channel; they are not listed as consumers.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from tradebus_contracts import events as ev
from tradebus_contracts.envelope import Envelope
from tradebus_contracts.rpc import (
    BrokerPositionsReply,
    FillsHistoryReply,
    FillsHistoryRequest,
    LedgerPositionsReply,
    LedgerPositionsRequest,
    PreviewReply,
    PreviewRequest,
    SyncReply,
    SyncRequest,
)
from tradebus_contracts.services import OPERATOR, Service
from tradebus_contracts.streams import ALL_STREAMS
from tradebus_contracts.subjects import (
    ACTIVITIES,
    AUDIT_CHECKPOINTS,
    DLQ,
    GATEWAY_FILLS_HISTORY,
    GATEWAY_POSITIONS,
    HEALTH,
    KIND_BY_EVENT_TYPE,
    LEDGER_POSITIONS,
    LEDGER_SYNC,
    RISK_LIMITS,
    RISK_PREVIEW,
    TRADING_STATE,
    subject_filter,
)

__all__ = ["Channel", "Endpoint", "CHANNELS", "ENDPOINTS", "ALL_SERVICES"]

ALL_SERVICES: tuple[str, ...] = tuple(Service)
_ORDER_READERS = (Service.RISK, Service.TICKET_API)  # risk closes open approvals; the ticket shows the order


@dataclass(frozen=True, slots=True)
class Channel:
    """One kind of event on the bus: its subjects, the stream that keeps it, its producers and its consumers."""

    event: type[Envelope]
    producers: tuple[str, ...]
    consumers: tuple[str, ...]

    @property
    def kind(self) -> str:
        return KIND_BY_EVENT_TYPE[self.event]

    @property
    def subject_filter(self) -> str:
        """The wildcard that matches every subject of this channel (``orders.requested.*``)."""
        return subject_filter(self.kind)

    @property
    def parameters(self) -> tuple[str, ...]:
        """The names of the subject tokens after the kind that vary (``symbol``; ``service`` for dlq;
        ``activity_type`` and ``symbol`` for broker activities)."""
        if self.kind in (TRADING_STATE, AUDIT_CHECKPOINTS):
            return ()
        if self.kind == ACTIVITIES:
            return ("activity_type", "symbol")
        return ("service",) if self.kind == DLQ else ("symbol",)

    @property
    def stream(self) -> str:
        first = self.kind.split(".", 1)[0]
        return next(s.name for s in ALL_STREAMS if any(p.split(".", 1)[0] == first for p in s.subjects))


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A core-NATS request/reply subject, outside every stream. ``request``/``reply`` None: free-form JSON."""

    subject: str
    responders: tuple[str, ...]
    requesters: tuple[str, ...]
    summary: str
    request: type[BaseModel] | None = None
    reply: type[BaseModel] | None = None


CHANNELS: tuple[Channel, ...] = (
    Channel(ev.OrderRequested, (Service.TICKET_API,), (Service.RISK, Service.TICKET_API, Service.GATEWAY)),
    Channel(ev.RiskApproved, (Service.RISK,), (Service.GATEWAY, Service.TICKET_API)),
    Channel(ev.RiskRejected, (Service.RISK,), (Service.TICKET_API,)),
    Channel(ev.OrderSubmitted, (Service.GATEWAY,), _ORDER_READERS),
    Channel(ev.SubmissionFailed, (Service.GATEWAY,), _ORDER_READERS),
    Channel(ev.OrderStatusChanged, (Service.GATEWAY,), _ORDER_READERS),
    Channel(ev.CancelRequested, (Service.TICKET_API, OPERATOR), (Service.GATEWAY, Service.TICKET_API)),
    Channel(ev.CancelResult, (Service.GATEWAY,), _ORDER_READERS),
    Channel(ev.FillReported, (Service.GATEWAY,),
            (Service.RISK, Service.GATEWAY, Service.POSITION_SYNC, Service.TICKET_API)),
    Channel(ev.PositionSnapshot, (Service.POSITION_SYNC,), (Service.TICKET_API,)),
    Channel(ev.PositionDrift, (Service.POSITION_SYNC,), (Service.TICKET_API,)),
    Channel(ev.PositionReconciled, (Service.POSITION_SYNC,), (Service.TICKET_API,)),
    Channel(ev.CorporateActionApplied, (Service.POSITION_SYNC,), (Service.TICKET_API,)),
    Channel(ev.TradingStateChanged, (OPERATOR,), (Service.RISK, Service.GATEWAY, Service.TICKET_API)),
    Channel(ev.DeadLetter, ALL_SERVICES, (OPERATOR,)),
    Channel(ev.BrokerTradeUpdate, (Service.WEBHOOK_INGEST,), (Service.GATEWAY,)),
    Channel(ev.BrokerActivity, (Service.GATEWAY,), (Service.POSITION_SYNC,)),
    Channel(ev.AuditCheckpoint, (Service.AUDIT_RECORDER,), (OPERATOR,)),
)
"""Every event of DESIGN §4. The gateway reads ``orders.requested`` only to fetch a quote for a new symbol early, and its
own fills to read the account again soon after one."""

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(RISK_PREVIEW, (Service.RISK,), (Service.TICKET_API,),
             "What risk would decide about an order now; nothing is signed, stored or booked.",
             PreviewRequest, PreviewReply),
    Endpoint(RISK_LIMITS, (Service.RISK,), (OPERATOR,),
             "The active risk limits, the trading state and today's usage."),
    Endpoint(GATEWAY_POSITIONS, (Service.GATEWAY,), (Service.POSITION_SYNC,),
             "A fresh read of the broker's positions, never a cached one; a failed read answers an error.",
             None, BrokerPositionsReply),
    Endpoint(GATEWAY_FILLS_HISTORY, (Service.GATEWAY,), (Service.POSITION_SYNC,),
             "The account's FILL activities, oldest first, a page at a time, raw as the broker sent them.",
             FillsHistoryRequest, FillsHistoryReply),
    Endpoint(LEDGER_POSITIONS, (Service.POSITION_SYNC,), (Service.TICKET_API, OPERATOR),
             "The ledger's positions with cost basis, prices and P&L, and account totals.",
             LedgerPositionsRequest, LedgerPositionsReply),
    Endpoint(LEDGER_SYNC, (Service.POSITION_SYNC,), (OPERATOR,),
             "Compare ledger and broker now (tradectl sync), or rebuild the ledger from the broker's fills first.",
             SyncRequest, SyncReply),
    Endpoint(f"{HEALTH}.{{service}}", ALL_SERVICES, (OPERATOR,),
             "The service's live health report: every check run at request time."),
)
