"""When and at what price an order executes against a quote. Pure functions over plain values."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .market import Quote
from .numbers import round_price, round_qty_down
from .orders import Order


@dataclass(frozen=True)
class Execution:
    qty: Decimal
    price: Decimal


def far_side(side: str, quote: Quote) -> Decimal:
    """A buy pays the ask, a sell gets the bid."""
    return quote.ask if side == "buy" else quote.bid


def follow_trail(order: Order, quote: Quote) -> None:
    """Trailing stops move their stop with the best price seen (high-water mark for sells, low for buys)."""
    if order.type != "trailing_stop" or order.triggered:
        return
    seen = far_side(order.side, quote)
    if order.hwm is None or (order.side == "sell" and seen > order.hwm) or (order.side == "buy" and seen < order.hwm):
        order.hwm = seen
    trail = order.trail_price if order.trail_price is not None else order.hwm * order.trail_percent / 100
    order.stop_price = round_price(order.hwm - trail if order.side == "sell" else order.hwm + trail)


def stop_reached(order: Order, quote: Quote) -> bool:
    price = far_side(order.side, quote)
    return price >= order.stop_price if order.side == "buy" else price <= order.stop_price


def marketable_price(order: Order, quote: Quote) -> Decimal | None:
    """The execution price if the order can trade now, else None. Triggers stops as a side effect."""
    if order.type in ("stop", "stop_limit", "trailing_stop") and not order.triggered:
        follow_trail(order, quote)
        if not stop_reached(order, quote):
            return None
        order.triggered = True
    price = far_side(order.side, quote)
    if order.type in ("limit", "stop_limit"):
        crossed = price <= order.limit_price if order.side == "buy" else price >= order.limit_price
        return price if crossed else None
    return price


def next_execution(order: Order, quote: Quote, max_fill_qty: Decimal | None) -> Execution | None:
    """The next execution for an open order, capped by the symbol's liquidity; None if it cannot trade."""
    price = marketable_price(order, quote)
    if price is None:
        return None
    if order.qty is None and order.target_qty is None:
        order.target_qty = round_qty_down(order.notional / price)
    remaining = order.remaining_qty
    if not remaining or remaining <= 0:
        return None
    qty = remaining if max_fill_qty is None else min(remaining, max_fill_qty)
    if order.time_in_force == "fok" and qty < remaining:
        return None
    return Execution(qty, price)
