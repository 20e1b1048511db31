"""Order vocabulary shared by every service: Alpaca's enums, the order fields, symbols, client order ids.

The names and string values are Alpaca's own (Trading API v2), so an order can be handed to alpaca-py or
compared with a broker response without a translation table that could drift.

This module guarantees *well-typed* values only. Business rules (qty xor notional, which prices a given order
type needs, qty > 0, sub-penny increments, ...) are the risk service's job: it must be able to receive a bad
order and answer with a reason code, so the contract deliberately lets such orders through.
"""

from __future__ import annotations

import re
from decimal import Decimal
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, WithJsonSchema
from pydantic_core import PydanticCustomError

from tradebus_contracts.decimal_types import Money, Quantity

__all__ = [
    "OrderSide",
    "OrderType",
    "TimeInForce",
    "OrderStatus",
    "FINAL_STATUSES",
    "OPEN_STATUSES",
    "OrderProgress",
    "FINAL_PROGRESS",
    "OPEN_PROGRESS",
    "progress_of",
    "SYMBOL_PATTERN",
    "Symbol",
    "OrderFields",
    "CLIENT_ORDER_ID_PREFIX",
    "client_order_id_for",
    "order_id_from_client_order_id",
]


class OrderSide(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"


class TimeInForce(StrEnum):
    DAY = "day"
    GTC = "gtc"
    OPG = "opg"
    CLS = "cls"
    IOC = "ioc"
    FOK = "fok"


class OrderStatus(StrEnum):
    """Every status Alpaca can report about an order at the broker. Which transitions are legal is the gateway's
    state machine (``order_gateway.lifecycle``); which statuses end an order is `FINAL_STATUSES`, here."""

    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    DONE_FOR_DAY = "done_for_day"
    CANCELED = "canceled"
    EXPIRED = "expired"
    REPLACED = "replaced"
    PENDING_CANCEL = "pending_cancel"
    PENDING_REPLACE = "pending_replace"
    PENDING_REVIEW = "pending_review"
    ACCEPTED = "accepted"
    PENDING_NEW = "pending_new"
    ACCEPTED_FOR_BIDDING = "accepted_for_bidding"
    STOPPED = "stopped"
    REJECTED = "rejected"
    SUSPENDED = "suspended"
    CALCULATED = "calculated"
    HELD = "held"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES: frozenset[OrderStatus] = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.EXPIRED, OrderStatus.REJECTED, OrderStatus.REPLACED}
)
"""The broker will report nothing more about the order: it no longer rests and no longer needs watching, and what
it committed is settled (the filled part is a position, the rest is gone). An approval stops counting as open
exposure at one of these. ``replaced`` ends the original order; its replacement is a new order.
``done_for_day`` is *not* final: it rests again the next trading day (a GTC order) until it expires or fills."""

OPEN_STATUSES: frozenset[OrderStatus] = frozenset(set(OrderStatus) - FINAL_STATUSES)
"""Every other status: the order may still fill, so it is tracked and its exposure counts."""


class OrderProgress(StrEnum):
    """Where an order stands on its whole way, as people read it (the ticket, tradectl): the bus's own steps before
    the broker has it, then the broker's outcome.

    requested -> approved | rejected -> submitted | failed -> partially_filled -> filled | canceled | expired |
    rejected. ``rejected`` is a refusal by risk or, after submission, by the broker; ``failed`` is a submission
    the broker refused outright (``SubmissionFailed``).
    """

    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    SUBMITTED = "submitted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    EXPIRED = "expired"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        return self in FINAL_PROGRESS


FINAL_PROGRESS: frozenset[OrderProgress] = frozenset({
    OrderProgress.REJECTED, OrderProgress.FILLED, OrderProgress.CANCELED, OrderProgress.EXPIRED, OrderProgress.FAILED,
})
OPEN_PROGRESS: frozenset[OrderProgress] = frozenset(set(OrderProgress) - FINAL_PROGRESS)

PROGRESS_RANK: dict[OrderProgress, int] = {
    OrderProgress.REQUESTED: 0,
    OrderProgress.APPROVED: 1,
    OrderProgress.SUBMITTED: 2,
    OrderProgress.PARTIALLY_FILLED: 3,
    **{p: 4 for p in OrderProgress if p in FINAL_PROGRESS},
}
"""How far along its way an order is: a later report never moves an order to a lower rank (reports can arrive out
of order), and every final progress ranks last (the first one reached stays)."""

_PROGRESS_OF_STATUS: dict[OrderStatus, OrderProgress] = {
    OrderStatus.PARTIALLY_FILLED: OrderProgress.PARTIALLY_FILLED,
    OrderStatus.FILLED: OrderProgress.FILLED,
    OrderStatus.CANCELED: OrderProgress.CANCELED,
    OrderStatus.EXPIRED: OrderProgress.EXPIRED,
    OrderStatus.REJECTED: OrderProgress.REJECTED,
    OrderStatus.REPLACED: OrderProgress.CANCELED,  # tradebus never replaces; the original is no longer live
}


def progress_of(status: OrderStatus, filled_qty: Decimal) -> OrderProgress:
    """The progress a broker status means: a final status its outcome; anything still working at the broker is
    ``submitted``, or ``partially_filled`` once something has filled."""
    mapped = _PROGRESS_OF_STATUS.get(status)
    if mapped is not None:
        return mapped
    return OrderProgress.PARTIALLY_FILLED if filled_qty > 0 else OrderProgress.SUBMITTED


# One leading letter, then letters/digits, with optional ".CLASS" parts (BRK.B). No '_', '*', '>' or
# whitespace: the symbol becomes a NATS subject token ('.' encoded as '_', see subjects.py), so anything that
# could act as a wildcard or split a token is refused here, at the edge.
SYMBOL_PATTERN = r"^[A-Z][A-Z0-9]*(?:\.[A-Z0-9]+)*$"
_SYMBOL_RE = re.compile(SYMBOL_PATTERN)
_SYMBOL_MAX_LEN = 16


def _check_symbol(value: str) -> str:
    if len(value) > _SYMBOL_MAX_LEN or not _SYMBOL_RE.fullmatch(value):
        raise PydanticCustomError(
            "symbol",
            "symbol must be an uppercase ticker like 'AAPL' or 'BRK.B' (at most {max} characters), got {got}",
            {"max": _SYMBOL_MAX_LEN, "got": repr(value[:40])},
        )
    return value


Symbol = Annotated[
    str,
    AfterValidator(_check_symbol),
    WithJsonSchema({"type": "string", "pattern": SYMBOL_PATTERN, "maxLength": _SYMBOL_MAX_LEN}),
]


class OrderFields(BaseModel):
    """The order as Alpaca names it. Mixed into every event that carries a full order, and usable alone
    (e.g. ``signing.signed_order`` returns one so the gateway can compare it with what it submits)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: Symbol
    side: OrderSide
    type: OrderType
    time_in_force: TimeInForce
    qty: Quantity | None = None
    notional: Money | None = None
    limit_price: Money | None = None
    stop_price: Money | None = None
    extended_hours: bool = False

    def order_fields(self) -> OrderFields:
        """Just the order fields of this object (drops ids, envelope, signature of a subclass)."""
        return OrderFields.model_validate({name: getattr(self, name) for name in OrderFields.model_fields})


CLIENT_ORDER_ID_PREFIX = "tb-"


def client_order_id_for(order_id: UUID) -> str:
    """Alpaca's ``client_order_id`` for a tradebus order: ``"tb-" + order_id.hex`` (35 chars; Alpaca allows 48).

    Deterministic on purpose: every retry of the same order is the same order at the broker, and after an
    ambiguous submit the gateway can ask the broker by this id before it ever sends again.
    """
    return CLIENT_ORDER_ID_PREFIX + order_id.hex


def order_id_from_client_order_id(client_order_id: str) -> UUID | None:
    """Inverse of ``client_order_id_for``; ``None`` for an id tradebus did not make (e.g. an order placed by
    hand in the broker's dashboard), so callers can tell foreign orders apart without catching exceptions."""
    if not client_order_id.startswith(CLIENT_ORDER_ID_PREFIX):
        return None
    tail = client_order_id[len(CLIENT_ORDER_ID_PREFIX) :]
    if len(tail) != 32 or tail != tail.lower():
        return None
    try:
        return UUID(hex=tail)
    except ValueError:
        return None
