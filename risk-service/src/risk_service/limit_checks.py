"""The limit checks: order size, position, exposure, open orders, daily notional, throttle and buying power.
Same shape as ``checks.py``: pure, all failures reported, silent when a price they need is missing (the
reference-data check reports that).

The position checks read the symbol's projected exposure (``RiskContext.projection``): a buy is measured against
the long worst case (the settled position plus every open buy and in-flight buy fill), a sell against the short
worst case, so orders cannot be split around a limit while earlier ones still work. An order that shrinks its
side's worst case is never refused by the position limits: a limit lowered below today's position must still let
the position be reduced.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from tradebus_contracts import OrderFields, OrderSide, RejectionReason
from tradebus_contracts.exposure import buying_power_needed
from tradebus_contracts.projection import Projection

from .limits import Limits
from .model import RiskContext
from .pricing import estimate, is_stale, order_shares, reference_price, usable_quote
from .reasons import price, quoted, reason, shares, usd

__all__ = [
    "check_order_size",
    "check_position",
    "check_open_orders",
    "check_daily_notional",
    "check_throttle",
    "check_buying_power",
    "buying_power_used",
    "buying_power_left",
    "needs_buying_power",
    "working_story",
]


def _size_field(order: OrderFields) -> str:
    return "notional" if order.notional is not None and order.qty is None else "qty"


def _cost_story(order: OrderFields, cost: Decimal, basis: str) -> str:
    """How the estimated cost was reached, e.g. "500 shares at the limit price $122.50"."""
    if basis == "notional":
        return "the order's notional"
    unit = cost / order.qty if order.qty else cost
    return f"{shares(order.qty)} shares at the {basis.replace('_', ' ')} {price(unit)}"


def check_order_size(order: OrderFields, ctx: RiskContext, limits: Limits) -> Iterator[RejectionReason]:
    cost, basis = estimate(order, usable_quote(ctx, limits))
    if cost is not None and cost > limits.max_order_notional:
        yield reason("ORDER_NOTIONAL_EXCEEDS_LIMIT", f"order notional {usd(cost)} ({_cost_story(order, cost, basis)}) "
                     f"exceeds the limit of {usd(limits.max_order_notional)}", _size_field(order))
    if order.qty is not None and order.qty > limits.max_order_qty:
        yield reason("ORDER_QTY_EXCEEDS_LIMIT", f"order qty {shares(order.qty)} exceeds the limit of "
                     f"{shares(limits.max_order_qty)} shares", "qty")


def working_story(projection: Projection, side: OrderSide) -> str:
    """What already works on ``side`` of the position, for a message: "" when nothing does."""
    working = projection.buying if side is OrderSide.BUY else projection.selling
    if working is None:
        return f" with open {side}s of unknown size working"
    return f" with {shares(working)} shares of open {side}s working" if working else ""


def check_position(order: OrderFields, ctx: RiskContext, limits: Limits) -> Iterator[RejectionReason]:
    quote = usable_quote(ctx, limits)
    qty = order_shares(order, quote)
    if qty is None or qty <= 0:
        return
    projection = ctx.projection
    before, after = projection.worst(order.side), projection.worst_after(order.side, qty)
    field = _size_field(order)
    if before is None or after is None:
        yield reason("POSITION_QTY_EXCEEDS_LIMIT", f"the {order.symbol} position cannot be bounded"
                     f"{working_story(projection, order.side)}", field)
        return
    if abs(after) <= abs(before):  # reduces (or keeps) its side's worst case: always allowed
        return
    settled = projection.settled
    if abs(after) > limits.max_position_qty:
        yield reason("POSITION_QTY_EXCEEDS_LIMIT", f"the {order.symbol} position could go from {shares(settled)} "
                     f"to {shares(after)} shares{working_story(projection, order.side)}, over the limit of "
                     f"{shares(limits.max_position_qty)}", field)
    ref = reference_price(quote)
    if ref is None:
        return
    value = abs(after) * ref
    if value > limits.max_position_notional:
        yield reason("POSITION_NOTIONAL_EXCEEDS_LIMIT", f"the {order.symbol} position could be worth {usd(value)} "
                     f"({shares(after)} shares at {quoted(ref)}){working_story(projection, order.side)}, over the "
                     f"limit of {usd(limits.max_position_notional)}", field)
    others = ctx.other_symbols_gross_growth
    gross = ctx.account_gross_exposure + others + (abs(after) - abs(settled)) * ref
    if gross > limits.max_account_gross_exposure:
        elsewhere = f" and {usd(others)} more in other symbols' open orders" if others else ""
        yield reason("GROSS_EXPOSURE_EXCEEDS_LIMIT", f"account gross exposure could go from "
                     f"{usd(ctx.account_gross_exposure)} to {usd(gross)}{working_story(projection, order.side)}"
                     f"{elsewhere}, over the limit of {usd(limits.max_account_gross_exposure)}", field)


def check_open_orders(order: OrderFields, ctx: RiskContext, limits: Limits) -> Iterator[RejectionReason]:
    if ctx.open_orders >= limits.max_open_orders:
        yield reason("OPEN_ORDERS_EXCEEDED", f"{ctx.open_orders} orders are already open; the limit is "
                     f"{limits.max_open_orders}")
    if ctx.open_orders_symbol >= limits.max_open_orders_per_symbol:
        yield reason("OPEN_ORDERS_PER_SYMBOL_EXCEEDED", f"{ctx.open_orders_symbol} {order.symbol} orders are "
                     f"already open; the limit is {limits.max_open_orders_per_symbol}", "symbol")


def check_daily_notional(order: OrderFields, ctx: RiskContext, limits: Limits) -> Iterator[RejectionReason]:
    cost, _ = estimate(order, usable_quote(ctx, limits))
    if cost is None:
        return
    if ctx.daily_notional_used + cost > limits.max_daily_notional:
        yield reason("DAILY_NOTIONAL_EXCEEDED", f"today's approved notional {usd(ctx.daily_notional_used)} plus "
                     f"this order's {usd(cost)} would exceed the daily limit of {usd(limits.max_daily_notional)}",
                     _size_field(order))
    if ctx.daily_notional_used_symbol + cost > limits.max_daily_notional_per_symbol:
        yield reason("DAILY_NOTIONAL_PER_SYMBOL_EXCEEDED", f"today's approved {order.symbol} notional "
                     f"{usd(ctx.daily_notional_used_symbol)} plus this order's {usd(cost)} would exceed the "
                     f"daily {order.symbol} limit of {usd(limits.max_daily_notional_per_symbol)}", _size_field(order))


def check_throttle(order: OrderFields, ctx: RiskContext, limits: Limits) -> Iterator[RejectionReason]:
    if ctx.submissions_in_window >= limits.throttle_max_orders:
        yield reason("THROTTLED", f"{ctx.submissions_in_window} orders were approved in the last "
                     f"{limits.throttle_window_s.normalize():f}s (limit {limits.throttle_max_orders}): "
                     "denied, not queued; send it again later")


def buying_power_used(order: OrderFields, ctx: RiskContext, limits: Limits) -> Decimal | None:
    """What the order takes from buying power (``exposure.buying_power_needed``), priced at the usable quote: all
    of a buy; of a sell, the part that opens or grows a short, past the long that open sells leave in every outcome
    (``Projection.covered``). None when it cannot be known."""
    quote = usable_quote(ctx, limits)
    cost, _ = estimate(order, quote)
    if order.side is OrderSide.BUY:  # all of a buy, whatever the position
        return cost
    return buying_power_needed(order.side, cost, order_shares(order, quote), ctx.projection.covered(OrderSide.SELL))


def needs_buying_power(order: OrderFields, ctx: RiskContext, limits: Limits) -> bool:
    """Whether the order may need buying power (so the account must be known and fresh): every buy, and any
    sell that is not provably covered by the long position left once the open sells fill."""
    if order.side is OrderSide.BUY:
        return True
    qty = order_shares(order, usable_quote(ctx, limits))
    return qty is None or qty > ctx.projection.covered(OrderSide.SELL)


def buying_power_left(ctx: RiskContext) -> Decimal | None:
    """The broker's buying power less what open buys it does not hold back yet may cost (``Book.buys_not_in_account``);
    None when the account is unknown."""
    if ctx.account is None:
        return None
    return ctx.account.buying_power - ctx.buys_not_in_account


def check_buying_power(order: OrderFields, ctx: RiskContext, limits: Limits) -> Iterator[RejectionReason]:
    account = ctx.account
    if account is None or is_stale(account.as_of, ctx.now, limits.max_account_age_s):
        return
    needed = buying_power_used(order, ctx, limits)
    left = buying_power_left(ctx)
    if needed is not None and left is not None and needed > left:
        what = "estimated cost" if order.side is OrderSide.BUY else "estimated value of the short sale"
        pending = (f" less {usd(ctx.buys_not_in_account)} for open buys the broker has not counted yet"
                   if ctx.buys_not_in_account else "")
        yield reason("INSUFFICIENT_BUYING_POWER", f"{what} {usd(needed)} exceeds the buying power of "
                     f"{usd(account.buying_power)}{pending}", _size_field(order))
