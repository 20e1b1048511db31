"""tradebus contracts: the typed events, subjects, stream definitions and approval signing every service
shares (DESIGN §4, §5.1). Types and pure functions only: no network, no files (except the schema exporter
when run), so any service or test can import it freely.

Modules: ``decimal_types`` (Money/Quantity as decimal strings), ``orders`` (Alpaca enums, what a status means,
OrderProgress, order fields, client_order_id), ``envelope`` (common fields), ``events`` (the events), ``codec``
(bytes <-> events), ``subjects`` (NATS subjects, rpc/health requests), ``streams`` (JetStream streams),
``signing`` (Ed25519 approvals), ``exposure`` (what an order does to a position), ``projection`` (what open
orders do to it together), ``audit`` (the audit chain and checkpoints), ``trading_day`` (New York's calendar),
``rpc`` (request/reply bodies),
``refdata`` (the REFDATA bucket), ``services`` (service names), ``topology`` (who publishes and consumes what),
``schema_export`` / ``asyncapi_export`` / ``generated`` (JSON Schema files, docs/asyncapi.yaml; dev tools, run by
hand or by the drift tests). The most used names are re-exported here.
"""

from tradebus_contracts.codec import EVENT_TYPES, AnyEvent, InvalidEvent, decode, decode_event, encode_event
from tradebus_contracts.decimal_types import Money, Quantity, Ratio
from tradebus_contracts.envelope import Envelope, UtcDatetime, utc_now
from tradebus_contracts.events import (
    CancelOutcome,
    CancelRequested,
    CancelResult,
    CorporateActionApplied,
    CorporateActionType,
    DeadLetter,
    FillReported,
    OrderRequested,
    OrderStatusChanged,
    OrderSubmitted,
    PositionDrift,
    PositionReconciled,
    PositionSnapshot,
    RejectionReason,
    RiskApproved,
    RiskRejected,
    SubmissionFailed,
    TradingState,
    TradingStateChanged,
)
from tradebus_contracts.orders import (
    OrderFields,
    OrderSide,
    OrderStatus,
    OrderType,
    Symbol,
    TimeInForce,
    client_order_id_for,
    order_id_from_client_order_id,
)
from tradebus_contracts.signing import ApprovalRejected, sign_approval, signed_order, verify_approval
from tradebus_contracts.subjects import InvalidSubject, parse_subject, subject_for

Event = Envelope
"""The base class of every event (same class as ``Envelope``); use it in type hints for "any event"."""

__all__ = [
    "EVENT_TYPES",
    "AnyEvent",
    "InvalidEvent",
    "decode",
    "decode_event",
    "encode_event",
    "Money",
    "Quantity",
    "Ratio",
    "Envelope",
    "Event",
    "UtcDatetime",
    "utc_now",
    "CancelOutcome",
    "CancelRequested",
    "CancelResult",
    "CorporateActionApplied",
    "CorporateActionType",
    "DeadLetter",
    "FillReported",
    "OrderRequested",
    "OrderStatusChanged",
    "OrderSubmitted",
    "PositionDrift",
    "PositionReconciled",
    "PositionSnapshot",
    "RejectionReason",
    "RiskApproved",
    "RiskRejected",
    "SubmissionFailed",
    "TradingState",
    "TradingStateChanged",
    "OrderFields",
    "OrderSide",
    "OrderStatus",
    "OrderType",
    "Symbol",
    "TimeInForce",
    "client_order_id_for",
    "order_id_from_client_order_id",
    "ApprovalRejected",
    "sign_approval",
    "signed_order",
    "verify_approval",
    "InvalidSubject",
    "parse_subject",
    "subject_for",
]
