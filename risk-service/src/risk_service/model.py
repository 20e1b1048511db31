"""The plain values the risk checks read: reference data, the order's context; and what comes out of them: the
checks' verdict, and the decision event published for an order.

The service fills these from its reference-data mirror and its book; the checks never see NATS, PostgreSQL
or a clock. Every piece of reference data carries ``as_of`` so a check can tell fresh from stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from tradebus_contracts import RejectionReason, RiskApproved, RiskRejected, TradingState

__all__ = ["Asset", "Quote", "Account", "RiskContext", "Verdict", "DecisionEvent"]


@dataclass(frozen=True, slots=True)
class Asset:
    symbol: str
    tradable: bool
    fractionable: bool
    shortable: bool
    as_of: datetime


@dataclass(frozen=True, slots=True)
class Quote:
    """Top of book. A side of 0 means "no quote on that side" (Alpaca reports it so)."""

    symbol: str
    bid: Decimal
    ask: Decimal
    last: Decimal | None
    as_of: datetime


@dataclass(frozen=True, slots=True)
class Account:
    buying_power: Decimal
    equity: Decimal
    as_of: datetime


@dataclass(frozen=True, slots=True)
class RiskContext:
    """Everything known about the world when one order is decided.

    Counters are what the service has already committed *before* this order: ``open_orders`` counts orders
    open at the broker plus approved-but-not-final ones, ``daily_notional_used`` the notional approved today,
    ``submissions_in_window`` the approvals issued within the throttle window.
    """

    now: datetime
    trading_state: TradingState
    asset: Asset | None
    quote: Quote | None
    account: Account | None
    position_qty: Decimal  # signed: long > 0, short < 0, flat 0
    account_gross_exposure: Decimal  # sum of |market value| over all positions
    open_orders: int
    open_orders_symbol: int
    daily_notional_used: Decimal
    daily_notional_used_symbol: Decimal
    submissions_in_window: int


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the checks found: approved iff no reasons. ``estimated_cost`` is what the order commits against the
    daily caps (None when it cannot be estimated, which always comes with a reason)."""

    approved: bool
    reasons: tuple[RejectionReason, ...]
    estimated_cost: Decimal | None
    price_basis: str | None


DecisionEvent = RiskApproved | RiskRejected
"""The one decision published for an order_id: a signed approval, or a rejection with its reasons."""
