"""Requests and replies outside every stream (``rpc.<service>.<what>``, see ``subjects``), as typed as events.

``rpc.risk-service.preview``: the ticket asks what risk would decide about an order right now, without anything
being signed, stored or booked. The risk service is the one authority for the estimate: the ticket shows its cost,
its reasons and the buying power left, and computes none of them itself.

Replies are JSON with the event rules (decimal strings, no unknown fields). A responder that fails on a request
answers ``{"error": "<what went wrong>"}`` instead (``tradebus_runtime.service``); `PreviewReply` is never that.
"""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, Field

from tradebus_contracts.decimal_types import Money
from tradebus_contracts.envelope import MODEL_CONFIG
from tradebus_contracts.events import RejectionReason, TradingState
from tradebus_contracts.orders import OrderFields

__all__ = ["PreviewRequest", "FieldProblem", "PreviewReply"]


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
