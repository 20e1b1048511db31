"""The HTTP API's request and response bodies (OpenAPI at ``/openapi.json``).

Requests take an order as the contracts' ``OrderFields`` (Alpaca's field names), with one leniency: decimals may
be JSON strings or numbers (a browser form sends either); a number is read as a ``Decimal`` with every digit as
sent (``guards.ExactJsonRoute``), so ``0.1`` is 0.1 and not the float's 55 digits, and a qty with 30 decimals keeps
them for risk to refuse. A float (only a Python caller can pass one) is refused: its digits are already lost.
Only *well-typed* is checked here (a decimal, a known enum, a ticker pattern, no unknown fields): 422 per field.
Business rules (qty xor notional, prices per type, limits) are the risk service's: the preview shows them
and a requested order that breaks them is rejected with reasons.

Responses carry decimals as strings, never JSON numbers, and the contracts' enums (``OrderProgress`` for an
order's status).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from tradebus_contracts import CancelOutcome, OrderFields, OrderSide, OrderType, TimeInForce, TradingState
from tradebus_contracts.decimal_types import DECIMAL_PATTERN, DecimalString, decimal_to_str
from tradebus_contracts.orders import OrderProgress


def _decimal_input(kind: str) -> Any:
    checker = DecimalString(kind)

    def validate(value: Any) -> Decimal:
        if isinstance(value, bool):
            raise PydanticCustomError("decimal_string", "{kind} must be a decimal string or number, got a boolean",
                                      {"kind": kind})
        return checker.validate_python(value)  # a JSON number arrives as a Decimal or an int, never a float

    schema = {"anyOf": [{"type": "string", "pattern": DECIMAL_PATTERN}, {"type": "number"}],
              "description": f"{kind} as a decimal string (preferred) or a JSON number", "examples": ["10.5"]}
    return Annotated[Decimal, PlainValidator(validate), WithJsonSchema(schema)]


QuantityIn = _decimal_input("quantity")
MoneyIn = _decimal_input("money")
DecimalOut = Annotated[str, WithJsonSchema({"type": "string", "pattern": DECIMAL_PATTERN})]


def dec(value: Decimal | None) -> str | None:
    return None if value is None else decimal_to_str(value)


class OrderIn(OrderFields):
    """An order as the ticket sends it: the contract's order fields, whose decimals may also be JSON numbers, and
    the ticket's ``order_id`` (generated when absent). ``order_fields()`` gives the plain ``OrderFields``."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "symbol": "AAPL", "side": "buy", "type": "limit", "time_in_force": "day", "qty": "10",
        "limit_price": "187.25"}]})

    qty: QuantityIn | None = None
    notional: MoneyIn | None = None
    limit_price: MoneyIn | None = None
    stop_price: MoneyIn | None = None
    order_id: UUID | None = None


class ModeOut(BaseModel):
    mode: Literal["paper", "live"]
    broker: Literal["simulator", "alpaca"]


class MarketOut(BaseModel):
    """The broker's market clock as the gateway last read it into REFDATA (every minute): ``as_of`` is when."""

    is_open: bool
    next_open: datetime
    next_close: datetime
    as_of: datetime


class TradingStateOut(BaseModel):
    """The kill switch: the last ``TradingStateChanged`` on ``control.trading_state`` (ACTIVE if none ever was)."""

    state: TradingState | None = Field(description="null when it cannot be confirmed right now (NATS away)")
    reason: str | None = Field(description="why, as the operator gave it; why it is unknown when state is null")
    changed_by: str | None
    changed_at: datetime | None


class StatusOut(BaseModel):
    """What the page's status bar shows: the mode, the market clock (null before the gateway has read it) and the
    trading state."""

    mode: Literal["paper", "live"]
    broker: Literal["simulator", "alpaca"]
    market: MarketOut | None
    trading_state: TradingStateOut


class QuoteOut(BaseModel):
    symbol: str
    bid: DecimalOut
    ask: DecimalOut
    last: DecimalOut | None
    timestamp: datetime
    stale: bool


class FieldError(BaseModel):
    field: str | None
    code: str
    message: str


class PreviewWarning(BaseModel):
    """A condition of the market or the account (stale quote, not enough buying power, trading halted)."""

    code: str
    message: str


class PreviewOut(BaseModel):
    estimated_cost: DecimalOut | None
    price_basis: str | None
    buying_power: DecimalOut | None
    buying_power_after: DecimalOut | None
    warnings: list[PreviewWarning]
    errors: list[FieldError]
    approvable: bool
    trading_state: TradingState | None


class OrderAccepted(BaseModel):
    order_id: UUID
    status: Literal["requested"] = "requested"


class CancelAccepted(BaseModel):
    order_id: UUID
    status: Literal["cancel_requested"] = "cancel_requested"


class TimelineEntry(BaseModel):
    event_type: str
    occurred_at: datetime
    summary: str
    event: dict[str, Any]


class OrderOut(BaseModel):
    order_id: UUID
    symbol: str
    side: OrderSide | None  # this and the order fields below are null while only a fill has been seen
    type: OrderType | None
    time_in_force: TimeInForce | None
    qty: DecimalOut | None
    notional: DecimalOut | None
    limit_price: DecimalOut | None
    stop_price: DecimalOut | None
    extended_hours: bool | None
    status: OrderProgress
    filled_qty: DecimalOut
    filled_avg_price: DecimalOut | None
    reject_reasons: list[dict[str, Any]]
    cancel_outcome: CancelOutcome | None
    created_at: datetime
    updated_at: datetime


class OrderDetailOut(OrderOut):
    timeline: list[TimelineEntry]


class OrderListOut(BaseModel):
    orders: list[OrderOut]


class PositionOut(BaseModel):
    """One position from the ledger (position-sync-service), rounded for people (``positions``): money to the cent,
    per-share prices to their tick, the quantity to 9 decimals. ``qty`` is signed (negative: short)."""

    symbol: str
    qty: DecimalOut
    avg_cost: DecimalOut = Field(description="FIFO cost basis / qty, per share")
    cost_basis: DecimalOut
    last: DecimalOut | None = Field(description="the last price; null without a live quote")
    market_value: DecimalOut | None = Field(description="qty x last; null without a live quote")
    unrealized_pl: DecimalOut | None = Field(description="market value - cost basis; null without a live quote")
    realized_pl: DecimalOut = Field(description="P&L of the lots closed so far")
    day_pl: DecimalOut | None = Field(description="today's P&L (New York day); null without a live quote")
    drift: bool = Field(description="the ledger and the broker disagree (PositionDrift)")


class PositionTotalsOut(BaseModel):
    """The account's totals over every position, rounded from the exact totals (never summed from rounded rows);
    a figure that needs a price is null when any position has none."""

    cost_basis: DecimalOut
    market_value: DecimalOut | None
    unrealized_pl: DecimalOut | None
    realized_pl: DecimalOut
    day_pl: DecimalOut | None
    dividends: DecimalOut


class AccountOut(BaseModel):
    """The broker's account as the gateway last published it (REFDATA), not the ledger's."""

    buying_power: DecimalOut
    equity: DecimalOut
    cash: DecimalOut
    as_of: datetime


class PositionsOut(BaseModel):
    """The ledger's positions (sorted by symbol) and totals, as position-sync-service answered at ``as_of``."""

    positions: list[PositionOut]
    totals: PositionTotalsOut
    as_of: datetime
    last_sync_at: datetime | None = Field(description="when the ledger was last reconciled with the broker")
    last_sync_ok: bool | None = Field(description="whether that reconciliation could read the broker")
    account: AccountOut | None


class Message(BaseModel):
    """Every non-validation error: ``{"detail": "what went wrong"}``."""

    detail: str
