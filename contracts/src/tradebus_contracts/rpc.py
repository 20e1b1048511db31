"""Requests and replies outside every stream (``rpc.<service>.<what>``, see ``subjects``), as typed as events.

``rpc.order-gateway.positions``: a fresh read of the broker's positions (`BrokerPositionsReply`); a failed read is
``{"error": ...}``, never an empty list: "the broker did not answer" must never read as "flat".

``rpc.order-gateway.fills-history`` (`GATEWAY_FILLS_HISTORY`): the account's FILL activities, oldest first, a page at
a time (`FillsHistoryRequest` → `FillsHistoryReply`), what position-sync rebuilds its ledger from. A failed read or a
refused request (``page_size`` 0) is ``{"error": ...}`` like every other request, never an empty page.

``rpc.position-sync-service.positions`` / ``.sync``: the ledger, for people (`LedgerPositionsReply`), and a sync or
a rebuild on demand (`SyncReply`).

``rpc.risk-service.preview``: the ticket asks what risk would decide about an order right now, without anything
being signed, stored or booked. The risk service is the one authority for the estimate: the ticket shows its cost,
its reasons and the buying power left, and computes none of them itself.

Replies are JSON with the event rules (decimal strings, no unknown fields). A responder that fails on a request
answers ``{"error": "<what went wrong>"}`` instead (``tradebus_runtime.service``); `PreviewReply` is never that.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Self
from uuid import UUID

from pydantic import BaseModel, Field, field_validator, model_validator

from tradebus_contracts.decimal_types import Money, Quantity
from tradebus_contracts.envelope import MODEL_CONFIG, UtcDatetime
from tradebus_contracts.events import RejectionReason, TradingState
from tradebus_contracts.orders import OrderFields, Symbol

__all__ = [
    "PreviewRequest",
    "FieldProblem",
    "PreviewReply",
    "BrokerPosition",
    "BrokerPositionsReply",
    "LedgerPositionsRequest",
    "LotView",
    "LedgerPosition",
    "LedgerTotals",
    "LedgerPositionsReply",
    "SyncRequest",
    "SyncReply",
    "FILLS_HISTORY_MAX_PAGE_SIZE",
    "FillsHistoryRequest",
    "FillsHistoryReply",
]


class PreviewRequest(OrderFields):
    """An order to preview: its fields, and the order_id the requester will use (optional, informational)."""

    order_id: UUID | None = None


class FieldProblem(BaseModel):
    """A request that is not a well-formed order at all (a field of the wrong type): which field, and why."""

    model_config = MODEL_CONFIG

    field: str | None = None
    message: str


class PreviewReply(BaseModel):
    """What risk would decide. ``ok`` is false only when the request was not a well-formed order (``errors``);
    otherwise ``approved`` with every failed check in ``reasons`` — the same reasons a real decision would give — and,
    in ``warnings``, advice on the order that never blocks it (a stop the market has already passed)."""

    model_config = MODEL_CONFIG

    ok: bool
    errors: list[FieldProblem] = Field(default_factory=list)
    approved: bool = False
    reasons: list[RejectionReason] = Field(default_factory=list)
    warnings: list[RejectionReason] = Field(
        default_factory=list, description="advice that is no reason to refuse, e.g. STOP_TRIGGERS_NOW")
    estimated_cost: Money | None = None
    price_basis: str | None = Field(default=None, description="limit_price | stop_price | ask | bid | notional")
    buying_power: Money | None = None
    buying_power_after: Money | None = Field(
        default=None, description="buying power once the order is accepted (exposure.buying_power_needed)")
    trading_state: TradingState | None = None


# --- positions ----------------------------------------------------------------------------------------------------


class BrokerPosition(BaseModel):
    """One position as the broker reports it; ``qty`` signed (negative: short), decimals as the broker sent them."""

    model_config = MODEL_CONFIG

    symbol: Symbol
    qty: Quantity
    avg_entry_price: Money
    cost_basis: Money
    market_value: Money | None = None
    current_price: Money | None = None


class BrokerPositionsReply(BaseModel):
    """Every open position at the broker, read when asked (``as_of``: when the read was sent)."""

    model_config = MODEL_CONFIG

    positions: list[BrokerPosition]
    as_of: UtcDatetime


class LedgerPositionsRequest(BaseModel):
    model_config = MODEL_CONFIG

    lots: bool = Field(default=False, description="include each position's open tax lots")


class LotView(BaseModel):
    """An open tax lot: what is left of one fill (or of a corporate action's allocation)."""

    model_config = MODEL_CONFIG

    lot_id: str
    opened_at: datetime
    qty: Quantity
    price: Money = Field(description="cost per share")
    cost_basis: Money


class LedgerPosition(BaseModel):
    """A position from the ledger, with its price and P&L. Money is exact (the reader rounds for display);
    ``last``/``market_value``/``unrealized_pl``/``day_pl`` are None without a live quote."""

    model_config = MODEL_CONFIG

    symbol: Symbol
    qty: Quantity
    avg_cost: Money = Field(description="FIFO cost basis / qty")
    cost_basis: Money
    broker_avg_entry_price: Money | None = Field(default=None, description="the average by Alpaca's own method")
    last: Money | None = None
    market_value: Money | None = None
    unrealized_pl: Money | None = None
    realized_pl: Money
    day_pl: Money | None = None
    drift: bool = False
    lots: list[LotView] = Field(default_factory=list)


class LedgerTotals(BaseModel):
    model_config = MODEL_CONFIG

    cost_basis: Money
    market_value: Money | None = None
    unrealized_pl: Money | None = None
    realized_pl: Money
    day_pl: Money | None = None
    dividends: Money


class LedgerPositionsReply(BaseModel):
    model_config = MODEL_CONFIG

    positions: list[LedgerPosition]
    totals: LedgerTotals
    as_of: UtcDatetime
    last_sync_at: UtcDatetime | None = None
    last_sync_ok: bool | None = None


class SyncRequest(BaseModel):
    model_config = MODEL_CONFIG

    rebuild: bool = Field(default=False, description="rebuild the ledger from the broker's FILL activities first")


class SyncReply(BaseModel):
    """What one sync found. ``ok`` false: the broker could not be read, nothing was concluded."""

    model_config = MODEL_CONFIG

    ok: bool
    rebuilt: bool = False
    symbols_checked: int = 0
    mismatched: list[Symbol] = Field(default_factory=list, description="symbols that differ on this read")
    drifts: list[Symbol] = Field(default_factory=list, description="symbols that became PositionDrift")
    started_at: UtcDatetime
    finished_at: UtcDatetime
    message: str = ""


# --- the broker's fill history ------------------------------------------------------------------------------------


FILLS_HISTORY_MAX_PAGE_SIZE = 500
"""The most activities one `FillsHistoryReply` carries (and the default ask): a page of 500 raw FILL activities
stays far under NATS's 1 MB payload limit."""


class FillsHistoryRequest(BaseModel):
    """A page of the account's FILL activities: the first (``page_token`` null) or the one after the previous reply
    (its ``next_page_token``). ``page_size`` below 1 is refused; above the cap (`FILLS_HISTORY_MAX_PAGE_SIZE`, 500)
    it is served the cap: clamped, not refused, as the gateway has always done, so no requester breaks on it."""

    model_config = MODEL_CONFIG

    page_token: str | None = Field(
        default=None, description="the previous reply's next_page_token (the id of its last activity); null: the first")
    page_size: int = Field(
        default=FILLS_HISTORY_MAX_PAGE_SIZE, ge=1,
        description=f"activities wanted, at least 1; more than {FILLS_HISTORY_MAX_PAGE_SIZE} is served "
        f"{FILLS_HISTORY_MAX_PAGE_SIZE}")

    @field_validator("page_size")
    @classmethod
    def _clamped(cls, value: int) -> int:
        return min(value, FILLS_HISTORY_MAX_PAGE_SIZE)


class FillsHistoryReply(BaseModel):
    """One page of the account's FILL activities, oldest first; ask again with ``next_page_token`` until
    ``complete``.

    ``activities`` are Alpaca's activity objects exactly as the broker sent them (``GET /v2/account/activities``,
    REST v1: ``id``, ``order_id``, ``symbol``, ``side``, ``qty``, ``price``, ``cum_qty``, ``leaves_qty``, ``type``,
    ``transaction_time``; numbers as the strings they were), so they are typed as plain JSON objects, as
    `events.BrokerActivity.activity` is: the gateway passes them through unread, and the reader checks each one at
    its edge (position-sync's ``history.fill_from_activity``), so a field Alpaca adds or one activity the reader
    cannot use never makes a whole page undecodable."""

    model_config = MODEL_CONFIG

    activities: list[dict[str, Any]] = Field(description="raw Alpaca FILL activities, oldest first")
    complete: bool = Field(description="true: the history ends with this page (next_page_token is then null)")
    next_page_token: str | None = Field(
        default=None, description="the page_token of the next page (the id of this page's last activity); null when "
        "complete")

    @model_validator(mode="after")
    def _token_when_incomplete(self) -> Self:
        if self.complete != (self.next_page_token is None):
            raise ValueError("next_page_token is null exactly when the history is complete")
        return self
