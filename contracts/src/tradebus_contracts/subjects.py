"""NATS subjects of DESIGN §4: builders, a parser, and the subject for any event.

Symbols in subjects: NATS splits subjects on '.', so a share-class symbol like ``BRK.B`` would become two
tokens and break ``orders.requested.*`` filters. In a subject the symbol's '.' is therefore written as '_'
(``orders.requested.BRK_B``) and turned back into '.' when parsing. Symbols never contain '_' (see
``orders.SYMBOL_PATTERN``), so the mapping is exact both ways. The event body always carries the real symbol.

Builders validate their input, so a '*', '>', space or lowercase ticker can never produce a subject (or a
wildcard) by accident; the parser refuses wildcards and unknown subjects with ``InvalidSubject``.

Broker activities carry two tokens after their kind: ``broker.activities.<TYPE>.<SYMBOL>`` (``...FILL.AAPL``,
``...SPLIT.BRK_B``), so a reader can filter by type or by symbol. An activity with no symbol (a cash transfer) ends
in ``_``, which no symbol token can be.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from tradebus_contracts import events as ev
from tradebus_contracts.envelope import Envelope
from tradebus_contracts.orders import SYMBOL_PATTERN
from tradebus_contracts.services import Service

__all__ = [
    "InvalidSubject",
    "ParsedSubject",
    "SYMBOL_KINDS",
    "TRADING_STATE",
    "AUDIT_CHECKPOINTS",
    "ACTIVITIES",
    "NO_SYMBOL_TOKEN",
    "activity_subject",
    "DLQ",
    "KIND_BY_EVENT_TYPE",
    "symbol_token",
    "symbol_from_token",
    "symbol_subject",
    "dlq_subject",
    "subject_filter",
    "subject_matches",
    "parse_subject",
    "subject_for",
    "HEALTH",
    "RPC",
    "health_subject",
    "rpc_subject",
    "RISK_PREVIEW",
    "RISK_LIMITS",
    "GATEWAY_POSITIONS",
    "GATEWAY_FILLS_HISTORY",
    "LEDGER_POSITIONS",
    "LEDGER_SYNC",
]

# Kinds are the subject minus its last token; each names one event type.
SYMBOL_KINDS: frozenset[str] = frozenset(
    {
        "orders.requested",
        "risk.approved",
        "risk.rejected",
        "orders.submitted",
        "orders.failed",
        "orders.status",
        "orders.cancel",
        "orders.cancel_result",
        "fills",
        "positions.snapshot",
        "positions.drift",
        "positions.reconciled",
        "positions.corporate_action",
        "broker.trade_updates",
    }
)
TRADING_STATE = "control.trading_state"
AUDIT_CHECKPOINTS = "audit.checkpoints"
ACTIVITIES = "broker.activities"  # + ".<TYPE>.<SYMBOL>"
NO_SYMBOL_TOKEN = "_"
_FIXED = frozenset({TRADING_STATE, AUDIT_CHECKPOINTS})  # kinds that are one subject, no symbol or service token
DLQ = "dlq"
HEALTH = "health"
RPC = "rpc"

KIND_BY_EVENT_TYPE: dict[type[Envelope], str] = {
    ev.OrderRequested: "orders.requested",
    ev.RiskApproved: "risk.approved",
    ev.RiskRejected: "risk.rejected",
    ev.OrderSubmitted: "orders.submitted",
    ev.SubmissionFailed: "orders.failed",
    ev.OrderStatusChanged: "orders.status",
    ev.CancelRequested: "orders.cancel",
    ev.CancelResult: "orders.cancel_result",
    ev.FillReported: "fills",
    ev.PositionSnapshot: "positions.snapshot",
    ev.PositionDrift: "positions.drift",
    ev.PositionReconciled: "positions.reconciled",
    ev.CorporateActionApplied: "positions.corporate_action",
    ev.TradingStateChanged: TRADING_STATE,
    ev.DeadLetter: DLQ,
    ev.BrokerTradeUpdate: "broker.trade_updates",
    ev.BrokerActivity: ACTIVITIES,
    ev.AuditCheckpoint: AUDIT_CHECKPOINTS,
}

_SYMBOL_RE = re.compile(SYMBOL_PATTERN)
_TOKEN_RE = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$")
_SERVICE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_ACTIVITY_TYPE_RE = re.compile(r"^[A-Z][A-Z0-9]{0,15}$")


class InvalidSubject(ValueError):
    """A subject (or a symbol/service meant for one) that tradebus does not produce."""


class ParsedSubject(NamedTuple):
    kind: str  # e.g. "orders.requested", "control.trading_state", "dlq"
    symbol: str | None  # the real symbol ("BRK.B"), for per-symbol kinds
    service: str | None = None  # for "dlq.<service>"
    activity_type: str | None = None  # for "broker.activities.<TYPE>.<SYMBOL>"


def symbol_token(symbol: str) -> str:
    """``"BRK.B" -> "BRK_B"``: the symbol as one subject token."""
    if not _SYMBOL_RE.fullmatch(symbol):
        raise InvalidSubject(f"not a valid symbol for a subject: {symbol!r}")
    return symbol.replace(".", "_")


def symbol_from_token(token: str) -> str:
    """``"BRK_B" -> "BRK.B"``: inverse of ``symbol_token``."""
    if not _TOKEN_RE.fullmatch(token):
        raise InvalidSubject(f"not a symbol token: {token!r}")
    return token.replace("_", ".")


def symbol_subject(kind: str, symbol: str) -> str:
    if kind not in SYMBOL_KINDS:
        raise InvalidSubject(f"unknown per-symbol subject kind {kind!r}")
    return f"{kind}.{symbol_token(symbol)}"


def activity_subject(activity_type: str, symbol: str | None) -> str:
    """``("SPLIT", "BRK.B") -> "broker.activities.SPLIT.BRK_B"``; no symbol: ``"broker.activities.CSD._"``."""
    if not _ACTIVITY_TYPE_RE.fullmatch(activity_type):
        raise InvalidSubject(f"not an activity type for a subject: {activity_type!r}")
    return f"{ACTIVITIES}.{activity_type}.{NO_SYMBOL_TOKEN if symbol is None else symbol_token(symbol)}"


def _service_token(service: str) -> str:
    if not _SERVICE_RE.fullmatch(service):
        raise InvalidSubject(f"not a valid service name for a subject: {service!r}")
    return service


def dlq_subject(service: str) -> str:
    return f"{DLQ}.{_service_token(service)}"


# --- requests outside every stream ------------------------------------------------------------------------------
# Core NATS request/reply, never captured by a stream: a request on ``risk.>`` would be stored by RISK and answered
# by JetStream with a PubAck instead of by the service.


def health_subject(service: str) -> str:
    """``health.<service>``: the service answers with its live health report (tradebus_runtime.health)."""
    return f"{HEALTH}.{_service_token(service)}"


def rpc_subject(service: str, what: str) -> str:
    """``rpc.<service>.<what>``: an operator or service request that ``service`` answers."""
    if not _SERVICE_RE.fullmatch(what):
        raise InvalidSubject(f"not a valid request name for a subject: {what!r}")
    return f"{RPC}.{_service_token(service)}.{what}"


RISK_PREVIEW = rpc_subject(Service.RISK, "preview")
"""The ticket's estimate: the same checks as a decision, nothing signed, stored or booked (``rpc.PreviewRequest``
in, ``rpc.PreviewReply`` out)."""
RISK_LIMITS = rpc_subject(Service.RISK, "limits")
"""The active risk limits, the trading state and today's usage (``tradectl risk limits``)."""
GATEWAY_POSITIONS = rpc_subject(Service.GATEWAY, "positions")
"""A fresh read of the broker's positions, never a cached one (``rpc.BrokerPositionsReply``)."""
GATEWAY_FILLS_HISTORY = rpc_subject(Service.GATEWAY, "fills-history")
"""The account's FILL activities, a page at a time (``rpc.FillsHistoryRequest`` / ``rpc.FillsHistoryReply``):
position-sync's rebuild reads the broker's history here, since only the gateway holds broker credentials."""
LEDGER_POSITIONS = rpc_subject(Service.POSITION_SYNC, "positions")
"""The ledger's positions with cost basis and P&L (``rpc.LedgerPositionsRequest`` / ``rpc.LedgerPositionsReply``)."""
LEDGER_SYNC = rpc_subject(Service.POSITION_SYNC, "sync")
"""Compare ledger and broker now, or rebuild the ledger from the broker's history (``rpc.SyncRequest`` /
``rpc.SyncReply``)."""


def subject_filter(kind: str) -> str:
    """The consumer filter for every subject of a kind: ``"orders.requested" -> "orders.requested.*"``."""
    if kind in SYMBOL_KINDS or kind == DLQ:
        return f"{kind}.*"
    if kind == ACTIVITIES:
        return f"{kind}.*.*"
    if kind in _FIXED:
        return kind
    raise InvalidSubject(f"unknown subject kind {kind!r}")


def parse_subject(subject: str) -> ParsedSubject:
    """``"orders.requested.BRK_B" -> ParsedSubject("orders.requested", "BRK.B")``; refuses wildcards."""
    if not subject or any(c in subject for c in "*> \t\r\n"):
        raise InvalidSubject(f"not a concrete tradebus subject: {subject!r}")
    if subject in _FIXED:
        return ParsedSubject(subject, None)
    if subject.startswith(ACTIVITIES + "."):
        activity_type, _, last = subject[len(ACTIVITIES) + 1:].partition(".")
        if _ACTIVITY_TYPE_RE.fullmatch(activity_type) and last:
            symbol = None if last == NO_SYMBOL_TOKEN else symbol_from_token(last)
            return ParsedSubject(ACTIVITIES, symbol, None, activity_type)
        raise InvalidSubject(f"not a broker activity subject: {subject!r}")
    kind, _, last = subject.rpartition(".")
    if kind == DLQ and _SERVICE_RE.fullmatch(last):
        return ParsedSubject(DLQ, None, last)
    if kind in SYMBOL_KINDS:
        return ParsedSubject(kind, symbol_from_token(last))
    raise InvalidSubject(f"not a tradebus subject: {subject!r}")


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS wildcard matching: ``*`` is one token, a final ``>`` one or more (what a filter or a permission
    covers)."""
    want, have = pattern.split("."), subject.split(".")
    for index, token in enumerate(want):
        if token == ">":
            return len(have) > index
        if index >= len(have) or (token != "*" and token != have[index]):
            return False
    return len(want) == len(have)


def subject_for(event: Envelope) -> str:
    """The subject an event is published on (DESIGN §4)."""
    kind = KIND_BY_EVENT_TYPE.get(type(event))
    if kind is None:
        raise InvalidSubject(f"no subject for {type(event).__name__}")
    if kind in _FIXED:
        return kind
    if isinstance(event, ev.DeadLetter):
        return dlq_subject(event.service)
    if isinstance(event, ev.BrokerActivity):
        return activity_subject(event.activity_type, event.symbol)
    return symbol_subject(kind, event.symbol)  # type: ignore[attr-defined]  # every per-symbol event has one
