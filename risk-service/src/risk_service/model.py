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
from tradebus_contracts.projection import Projection

__all__ = ["Asset", "Quote", "Account", "RiskContext", "Verdict", "DecisionEvent"]


@dataclass(frozen=True, slots=True)
class Asset:
    """What the broker says about a symbol: can it be traded, in fractions, and sold short."""

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
    """The broker account as last read: what it can still buy, and what it is worth."""

    buying_power: Decimal
    equity: Decimal
    as_of: datetime


@dataclass(frozen=True, slots=True)
class RiskContext:
    """Everything known about the world when one order is decided.

    Counters are what the service has already committed *before* this order: ``open_orders`` counts orders
    open at the broker plus approved-but-not-final ones, ``daily_notional_used`` today's approved notional that
    filled or may still fill, ``submissions_in_window`` the approvals issued within the throttle window.
    ``position_qty`` is the broker's settled position; ``pending_buy_qty`` / ``pending_sell_qty`` what open approved
    orders and fills not yet in it may still add or take away (None: unbounded), read together as ``projection``.
    ``account_gross_exposure`` is the settled positions' value; ``other_symbols_gross_growth`` what the open orders
    of every other symbol may add to it at their reference prices; ``buys_not_in_account`` what open buys may cost
    that the account's buying power does not hold back yet (``Book.buys_not_in_account``). ``position_at_broker``
    is the best estimate of the broker's position now (``Book.position_now``: the settled one with the fills recorded
    after it was read); ``open_sell_qty`` what open sell orders hold back from it (None: a size never known).
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
    pending_buy_qty: Decimal | None = Decimal(0)
    pending_sell_qty: Decimal | None = Decimal(0)
    other_symbols_gross_growth: Decimal = Decimal(0)
    buys_not_in_account: Decimal = Decimal(0)
    position_at_broker: Decimal | None = None  # None: the settled position
    open_sell_qty: Decimal | None = Decimal(0)

    @property
    def projection(self) -> Projection:
        """The symbol's projected exposure: the settled position and what is working on each side of it."""
        return Projection(self.position_qty, self.pending_buy_qty, self.pending_sell_qty)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the checks found: approved iff no reasons. ``estimated_cost`` is what the order commits against the
    daily caps (None when it cannot be estimated, which always comes with a reason); ``shares`` the shares it may
    move (its qty, or a notional order's estimate at the quote)."""

    approved: bool
    reasons: tuple[RejectionReason, ...]
    estimated_cost: Decimal | None
    price_basis: str | None
    shares: Decimal | None = None


DecisionEvent = RiskApproved | RiskRejected
"""The one decision published for an order_id: a signed approval, or a rejection with its reasons."""
