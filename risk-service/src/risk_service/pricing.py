"""What an order is worth before it trades: its estimated cost, share count and the reference price.

The estimate prices the order where it would execute at worst: a limit (or stop-limit) order at its limit
price, a stop order at its stop price (it becomes a market order there), a market order at the far side of the
quote (the ask when buying, the bid when selling); a notional order costs its notional. A side of 0 in a quote
is "no quote on that side", so it is missing, not free.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from decimal import Decimal

from tradebus_contracts import OrderFields, OrderSide, OrderType

from .limits import Limits
from .model import Quote, RiskContext

__all__ = [
    "PRICES_BY_TYPE",
    "estimate",
    "reference_price",
    "far_side_price",
    "order_shares",
    "signed",
    "is_fractional",
    "is_stale",
    "usable_quote",
]

_TWO = Decimal(2)

PRICES_BY_TYPE: dict[OrderType, frozenset[str]] = {
    OrderType.MARKET: frozenset(),
    OrderType.LIMIT: frozenset({"limit_price"}),
    OrderType.STOP: frozenset({"stop_price"}),
    OrderType.STOP_LIMIT: frozenset({"limit_price", "stop_price"}),
}


def estimate(order: OrderFields, quote: Quote | None) -> tuple[Decimal | None, str]:
    """(estimated cost, price basis). The cost is None when it cannot be known: no usable price, or a qty /
    notional that is missing, doubled or not positive (those orders are rejected for that anyway)."""
    if order.notional is not None and order.qty is None:
        return (order.notional if order.notional > 0 else None), "notional"
    basis, unit = _basis(order, quote)
    qty = order.qty
    if qty is None or order.notional is not None or qty <= 0 or unit is None or unit <= 0:
        return None, basis
    return qty * unit, basis


def _basis(order: OrderFields, quote: Quote | None) -> tuple[str, Decimal | None]:
    if order.type in (OrderType.LIMIT, OrderType.STOP_LIMIT):
        return "limit_price", order.limit_price
    if order.type is OrderType.STOP:
        return "stop_price", order.stop_price
    return ("ask" if order.side is OrderSide.BUY else "bid"), far_side_price(order, quote)


def far_side_price(order: OrderFields, quote: Quote | None) -> Decimal | None:
    """The side of the quote a market order would take: the ask for a buy, the bid for a sell."""
    if quote is None:
        return None
    value = quote.ask if order.side is OrderSide.BUY else quote.bid
    return value if value > 0 else None


def reference_price(quote: Quote | None) -> Decimal | None:
    """The fair price to measure against: the mid of a two-sided quote, else the last trade."""
    if quote is None:
        return None
    if quote.bid > 0 and quote.ask > 0:
        return (quote.bid + quote.ask) / _TWO
    if quote.last is not None and quote.last > 0:
        return quote.last
    return None


def order_shares(order: OrderFields, quote: Quote | None) -> Decimal | None:
    """Shares the order moves: its qty, or for a notional order the notional at the far side of the quote."""
    if order.qty is not None:
        return order.qty
    if order.notional is None:
        return None
    unit = far_side_price(order, quote)
    return None if unit is None else order.notional / unit


def signed(order: OrderFields, qty: Decimal) -> Decimal:
    return qty if order.side is OrderSide.BUY else -qty


def is_fractional(order: OrderFields) -> bool:
    """Alpaca's definition: any notional order, or a qty with a fractional part."""
    return order.notional is not None or (order.qty is not None and order.qty != order.qty.to_integral_value())


def is_stale(as_of: datetime, now: datetime, max_age_s: Decimal) -> bool:
    return now - as_of > _max_age(max_age_s)


@functools.lru_cache(maxsize=64)
def _max_age(max_age_s: Decimal) -> timedelta:
    """A limit's age as a timedelta, made once per limit (the checks ask a dozen times per order)."""
    return timedelta(seconds=float(max_age_s))


def usable_quote(ctx: RiskContext, limits: Limits) -> Quote | None:
    """The quote if it is fresh enough to price against, else None (the reference-data check says why)."""
    quote = ctx.quote
    if quote is None or is_stale(quote.as_of, ctx.now, limits.max_quote_age_s):
        return None
    return quote
