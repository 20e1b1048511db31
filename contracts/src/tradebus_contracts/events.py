"""Every event of DESIGN §4, as frozen pydantic models on the common envelope.

Events are past-tense facts. Each pins ``event_type`` to its class name (the decoding discriminator, see
``codec.py``). Order-scoped events mix in ``OrderScoped`` (order_id; correlation_id must equal it); events
that carry a whole order mix in ``OrderFields`` (Alpaca's field names). Money and quantities are ``Money`` /
``Quantity``: Decimals that travel as strings.

Closed sets that code branches on are ``StrEnum``s; the "where did we learn this" sources are ``Literal``s.
"""

from __future__ import annotations

import base64
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal, Self
from uuid import UUID, uuid4

from pydantic import BaseModel, Field

from tradebus_contracts.decimal_types import Money, Quantity, Ratio
from tradebus_contracts.envelope import MODEL_CONFIG, Envelope, NonEmptyStr, OrderScoped, UtcDatetime
from tradebus_contracts.orders import OrderFields, OrderSide, OrderStatus, Symbol

__all__ = [
    "CancelOutcome",
    "TradingState",
    "CorporateActionType",
    "RejectionReason",
    "OrderRequested",
    "RiskApproved",
    "RiskRejected",
    "OrderSubmitted",
    "SubmissionFailed",
    "OrderStatusChanged",
    "CancelRequested",
    "CancelResult",
    "FillReported",
    "PositionSnapshot",
    "PositionDrift",
    "PositionReconciled",
    "CorporateActionApplied",
    "TradingStateChanged",
    "DeadLetter",
    "BrokerTradeUpdate",
    "BrokerActivity",
    "AuditCheckpoint",
    "ALL_EVENT_CLASSES",
]

StatusSource = Literal["stream", "poll", "webhook", "lookup"]
FillSource = Literal["stream", "poll", "webhook"]
PositionSource = Literal["ledger", "broker"]
DriftSeverity = Literal["info", "warning", "critical"]
ActivityType = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9]{0,15}$")]
ReasonCode = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$", max_length=64)]
ServiceName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]


class CancelOutcome(StrEnum):
    CANCELED = "canceled"
    TOO_LATE_FILLED = "too_late_filled"
    TOO_LATE_PARTIALLY_FILLED = "too_late_partially_filled"
    NOT_CANCELABLE = "not_cancelable"
    FAILED = "failed"
    CANCELED_BEFORE_SUBMIT = "canceled_before_submit"


class TradingState(StrEnum):
    ACTIVE = "active"
    REDUCING = "reducing"
    HALTED = "halted"


class CorporateActionType(StrEnum):
    SPLIT = "split"  # forward or reverse: ``ratio`` new shares per old share
    DIVIDEND = "dividend"  # cash, to the income ledger
    RETURN_OF_CAPITAL = "return_of_capital"  # cash that reduces the basis
    NAME_CHANGE = "name_change"  # lots move to ``new_symbol``
    MERGER = "merger"  # stock (and/or cash) for stock: lots move to ``new_symbol`` at ``ratio``


class RejectionReason(BaseModel):
    """One failed risk check: a machine-readable code (``NOTIONAL_EXCEEDS_LIMIT``), a human message, and the
    order field it is about when there is one."""

    model_config = MODEL_CONFIG

    code: ReasonCode
    message: NonEmptyStr
    field: str | None = None


# --- the order's way to the broker -------------------------------------------------------------------------


class OrderRequested(OrderFields, OrderScoped, Envelope):
    """Someone (ticket API, a script) asks for an order. Only a request: risk decides."""

    event_type: Literal["OrderRequested"] = "OrderRequested"


class RiskApproved(OrderFields, OrderScoped, Envelope):
    """Risk approved the order. Signed (Ed25519, ``signing.py``) over the order fields, order_id, approval_id,
    issued_at, expires_at and key_id; the gateway submits only what verifies and only before ``expires_at``."""

    event_type: Literal["RiskApproved"] = "RiskApproved"
    approval_id: UUID = Field(default_factory=uuid4)
    issued_at: UtcDatetime
    expires_at: UtcDatetime
    key_id: NonEmptyStr
    signature: str = Field(max_length=256, description="base64 Ed25519 signature; checked by verify_approval")


class RiskRejected(OrderFields, OrderScoped, Envelope):
    """Risk refused the order: every failed check as a reason, plus a one-line summary for humans."""

    event_type: Literal["RiskRejected"] = "RiskRejected"
    reasons: list[RejectionReason] = Field(min_length=1)
    message: NonEmptyStr


class OrderSubmitted(OrderFields, OrderScoped, Envelope):
    """The broker accepted the order (it has a broker order id). Carries the order exactly as submitted."""

    event_type: Literal["OrderSubmitted"] = "OrderSubmitted"
    client_order_id: NonEmptyStr
    broker_order_id: NonEmptyStr
    approval_id: UUID
    status: OrderStatus
    submitted_at: UtcDatetime


class SubmissionFailed(OrderScoped, Envelope):
    """The broker refused the order for good (4xx). Ambiguous outcomes are not this: they are looked up."""

    event_type: Literal["SubmissionFailed"] = "SubmissionFailed"
    client_order_id: NonEmptyStr
    symbol: Symbol
    http_status: int | None = None
    code: int | None = Field(default=None, description="Alpaca's numeric error code, e.g. 40310000")
    message: str


class OrderStatusChanged(OrderScoped, Envelope):
    """The broker's view of the order moved (new, partially_filled, filled, canceled, ...)."""

    event_type: Literal["OrderStatusChanged"] = "OrderStatusChanged"
    client_order_id: NonEmptyStr
    broker_order_id: NonEmptyStr
    symbol: Symbol
    previous_status: OrderStatus | None = None
    status: OrderStatus
    filled_qty: Quantity
    filled_avg_price: Money | None = None
    source: StatusSource
    broker_timestamp: UtcDatetime | None = None


class CancelRequested(OrderScoped, Envelope):
    """Someone asks to cancel an order (ticket API, tradectl)."""

    event_type: Literal["CancelRequested"] = "CancelRequested"
    symbol: Symbol
    requested_by: NonEmptyStr
    reason: str | None = None


class CancelResult(OrderScoped, Envelope):
    """How a cancel ended. "Too late" is a normal outcome: the order may fill while the cancel is in flight."""

    event_type: Literal["CancelResult"] = "CancelResult"
    symbol: Symbol
    outcome: CancelOutcome
    filled_qty: Quantity
    broker_order_id: str | None = None
    message: str


class FillReported(OrderScoped, Envelope):
    """One execution. Arrives up to three ways (stream, poll, webhook); consumers de-duplicate by
    ``execution_id``, and ``qty`` is this execution's delta (``cum_qty`` is informational)."""

    event_type: Literal["FillReported"] = "FillReported"
    client_order_id: NonEmptyStr
    broker_order_id: NonEmptyStr
    symbol: Symbol
    side: OrderSide
    execution_id: NonEmptyStr
    qty: Quantity
    price: Money
    cum_qty: Quantity
    order_status: OrderStatus
    position_qty: Quantity | None = None
    executed_at: UtcDatetime
    source: FillSource


# --- positions -----------------------------------------------------------------------------------------------


class PositionSnapshot(Envelope):
    """A position as seen by our ledger or by the broker at ``as_of``."""

    event_type: Literal["PositionSnapshot"] = "PositionSnapshot"
    symbol: Symbol
    qty: Quantity
    avg_entry_price: Money
    cost_basis: Money
    source: PositionSource
    as_of: UtcDatetime


class PositionDrift(Envelope):
    """Our ledger and the broker disagree, and have on two reads at least 30 s apart with no order in flight for the
    symbol. ``qty_diff`` = broker_qty - ledger_qty. ``severity``: ``info`` when only the cost basis is outside
    the tolerance, ``warning`` for a quantity on the same side below the critical notional, ``critical`` beyond it
    or on the other side (position_sync.reconcile). ``policy`` is what position-sync does about it
    (``alert``: nothing changes; ``adopt``: a ``PositionReconciled`` follows; ``reduce``: advisory, nothing changes
    either: the alert recommends reducing-only trading, which the operator switches for the whole account with
    ``tradectl halt --reducing``; position-sync may not publish ``control.>``)."""

    event_type: Literal["PositionDrift"] = "PositionDrift"
    symbol: Symbol
    severity: DriftSeverity
    ledger_qty: Quantity
    broker_qty: Quantity
    qty_diff: Quantity
    ledger_cost_basis: Money
    broker_cost_basis: Money
    policy: Literal["alert", "adopt", "reduce"] = "alert"
    first_seen_at: UtcDatetime | None = Field(default=None, description="the first read that saw the difference")
    detected_at: UtcDatetime


class PositionReconciled(Envelope):
    """A drift was resolved (or a sync found none); ``resolution`` says how, e.g. 'adopted_broker_qty'."""

    event_type: Literal["PositionReconciled"] = "PositionReconciled"
    symbol: Symbol
    qty: Quantity
    cost_basis: Money
    resolution: NonEmptyStr
    drift_event_id: UUID | None = None


class CorporateActionApplied(Envelope):
    """A corporate action applied to the ledger (split, dividend, return of capital, name change, merger), with
    before/after so the change is auditable."""

    event_type: Literal["CorporateActionApplied"] = "CorporateActionApplied"
    symbol: Symbol
    action: CorporateActionType
    action_id: str | None = Field(default=None, max_length=128,
                                  description="the broker's group_id (or ca_id): an action is applied once under it")
    new_symbol: Symbol | None = Field(default=None, description="name change / merger: where the lots went")
    ratio: Ratio | None = Field(default=None, description="split: new shares per old share (2 for 2-for-1)")
    cash_per_share: Money | None = Field(default=None, description="dividend: cash per share")
    ex_date: date
    qty_before: Quantity
    qty_after: Quantity
    cost_basis_before: Money
    cost_basis_after: Money
    cash_amount: Money | None = None


# --- facts from the broker, and the audit trail ------------------------------------------------------------------


EXECUTION_EVENTS: frozenset[str] = frozenset({"fill", "partial_fill"})
"""Alpaca's trade update events that carry one execution (``execution_id``, ``qty``, ``price``): every other event
only changes the order's status."""


class BrokerTradeUpdate(Envelope):
    """A trade update from the broker that arrived by a door other than the gateway's own connection (a verified
    fill webhook today). Not a fill yet: the order gateway, the one authority for fills, applies it through the same
    path as its stream and polling, so each execution becomes exactly one ``FillReported``.

    ``trade_update`` is the verified body exactly as the broker sent it (Alpaca's trade_update object: ``event``,
    ``execution_id``, ``qty``, ``price``, ``timestamp``, ``order``, ...); its numbers are read as Decimals by the
    gateway at its edge. ``correlation_id`` is the order_id when the client_order_id is one of ours.
    """

    event_type: Literal["BrokerTradeUpdate"] = "BrokerTradeUpdate"
    symbol: Symbol
    source: Literal["webhook"] = "webhook"
    delivery_id: NonEmptyStr = Field(description="the sender's id for this update (webhook-id): the same on every retry")
    update: NonEmptyStr = Field(description="Alpaca's trade update event: new, fill, partial_fill, canceled, ...")
    client_order_id: NonEmptyStr
    broker_order_id: NonEmptyStr
    execution_id: str | None = None
    received_at: UtcDatetime
    trade_update: dict[str, Any]


class BrokerActivity(Envelope):
    """One account activity as the broker reports it (Alpaca's ``/v2/account/activities`` or its activity event
    stream): a FILL, a dividend (DIV), a leg of a split (SPLIT), a name change (NC), a merger (MA), a cash movement
    (CSD, FEE, INT, ...). The order gateway, the only holder of broker credentials, publishes each activity exactly
    once: ``event_id`` is derived from ``activity_id`` (uuid5), so a re-read page is dropped by the stream's duplicate
    window and by the readers' inbox.

    ``activity`` is the body exactly as the broker sent it, numbers as the strings they were (position-sync reads
    them as Decimals at its edge). ``symbol`` is None for an account-level activity (a transfer, a fee): its subject
    then ends in ``_`` (``broker.activities.CSD._``). ``correlation_id`` is the activity id, or the order id when the
    activity is a fill of one of our orders."""

    event_type: Literal["BrokerActivity"] = "BrokerActivity"
    activity_id: NonEmptyStr = Field(description="the broker's id of the activity (REST ``id``, stream ``event_id``)")
    activity_type: ActivityType = Field(description="Alpaca's activity_type: FILL, DIV, SPLIT, NC, MA, CSD, ...")
    activity_subtype: str | None = Field(default=None, max_length=32, description="e.g. CDIV, FSPLIT, RSPLIT")
    symbol: Symbol | None = None
    group_id: str | None = Field(default=None, max_length=128, description="links the legs of one corporate action")
    source: Literal["rest", "stream", "rebuild"]
    activity: dict[str, Any]


class AuditCheckpoint(Envelope):
    """The audit recorder's signed statement of the trail's head: the rows up to AUDIT stream sequence ``seq`` hash
    to ``head_hash``. Ed25519 (base64 ``signature``) by the recorder's own key over the canonical JSON (RFC 8785)
    of ``seq``, ``head_hash``, ``signed_at`` and ``key_id``."""

    event_type: Literal["AuditCheckpoint"] = "AuditCheckpoint"
    seq: int = Field(ge=0)
    head_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    signed_at: UtcDatetime
    key_id: NonEmptyStr
    signature: str = Field(max_length=256)


# --- control and dead letters ---------------------------------------------------------------------------------


class TradingStateChanged(Envelope):
    """The kill switch: active, reducing (only position-reducing orders pass) or halted."""

    event_type: Literal["TradingStateChanged"] = "TradingStateChanged"
    state: TradingState
    reason: NonEmptyStr
    changed_by: NonEmptyStr


DEAD_LETTER_MAX_PAYLOAD = 256 * 1024


class DeadLetter(Envelope):
    """A message a service could not use (undecodable, schema-invalid, poison), kept with the reason.

    The original bytes are kept losslessly: ``payload_text`` is the UTF-8 text when the bytes are valid UTF-8
    (``payload_encoding="utf-8"``, readable in ``tradectl tail``), otherwise their base64
    (``payload_encoding="base64"``). Payloads over ``DEAD_LETTER_MAX_PAYLOAD`` bytes are cut there and
    ``payload_truncated`` is set, so the dead letter itself stays under NATS's default 1 MB limit.
    """

    event_type: Literal["DeadLetter"] = "DeadLetter"
    service: ServiceName
    original_subject: str
    reason: NonEmptyStr
    payload_text: str
    payload_encoding: Literal["utf-8", "base64"] = "utf-8"
    payload_truncated: bool = False
    original_headers: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def from_raw(
        cls,
        *,
        service: str,
        original_subject: str,
        reason: str,
        payload: bytes,
        headers: dict[str, str] | None = None,
        producer: str | None = None,
        correlation_id: str | None = None,
    ) -> Self:
        """Build a dead letter from what came off the wire; correlation defaults to the original Nats-Msg-Id."""
        headers = dict(headers or {})
        truncated = len(payload) > DEAD_LETTER_MAX_PAYLOAD
        payload = payload[:DEAD_LETTER_MAX_PAYLOAD]
        try:
            text, encoding = payload.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, encoding = base64.b64encode(payload).decode("ascii"), "base64"
        return cls(
            service=service,
            original_subject=original_subject,
            reason=reason,
            payload_text=text,
            payload_encoding=encoding,
            payload_truncated=truncated,
            original_headers=headers,
            producer=producer or service,
            correlation_id=correlation_id or headers.get("Nats-Msg-Id") or str(uuid4()),
        )

    def original_payload(self) -> bytes:
        """The original bytes (or their first ``DEAD_LETTER_MAX_PAYLOAD`` when truncated)."""
        if self.payload_encoding == "base64":
            return base64.b64decode(self.payload_text)
        return self.payload_text.encode("utf-8")


ALL_EVENT_CLASSES: tuple[type[Envelope], ...] = (
    OrderRequested,
    RiskApproved,
    RiskRejected,
    OrderSubmitted,
    SubmissionFailed,
    OrderStatusChanged,
    CancelRequested,
    CancelResult,
    FillReported,
    PositionSnapshot,
    PositionDrift,
    PositionReconciled,
    CorporateActionApplied,
    TradingStateChanged,
    DeadLetter,
    BrokerTradeUpdate,
    BrokerActivity,
    AuditCheckpoint,
)
