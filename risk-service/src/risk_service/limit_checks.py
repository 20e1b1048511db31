"""The limit checks: order size, position, exposure, open orders, daily notional, throttle, buying power and
the price collar. Same shape as ``checks.py``: pure, all failures reported, silent when a price they need is
missing (the reference-data check reports that).

An order that shrinks a position is never refused by the position limits: a limit lowered below today's
position must still let the position be reduced.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from tradebus_contracts import OrderFields, OrderSide, RejectionReason
from tradebus_contracts.exposure import buying_power_needed

from .limits import Limits
from .model import RiskContext
from .pricing import PRICES_BY_TYPE, estimate, is_stale, order_shares, reference_price, signed, usable_quote
from .reasons import pct, price, quoted, reason, shares, usd

__all__ = [
    "check_order_size",
    "check_position",
    "check_open_orders",
    "check_daily_notional",
    "check_throttle",
    "check_buying_power",
    "check_price_collar",
    "buying_power_used",
    "needs_buying_power",
]

_HUNDRED = Decimal(100)


def _size_field(order: OrderFields) -> str:
    return "notional" if order.notional is not None and order.qty is None else "qty"


def _cost_story(order: OrderFields, ctx: RiskContext, limits: Limits) -> tuple[Decimal | None, str]:
    """The estimated cost and how it was reached, e.g. ("500 shares at the limit price $122.50")."""
    quote = usable_quote(ctx, limits)
    cost, basis = estimate(order, quote)
    if cost is None or basis == "notional":
        return cost, "the order's notional"
    unit = cost / order.qty if order.qty else cost
    return cost, f"{shares(order.qty)} shares at the {basis.replace('_', ' ')} {price(unit)}"


def check_order_size(order: OrderFields, ctx: RiskContext, limits: Limits) -> Iterator[RejectionReason]:
    cost, story = _cost_story(order, ctx, limits)
    if cost is not None and cost > limits.max_order_notional:
        yield reason("ORDER_NOTIONAL_EXCEEDS_LIMIT", f"order notional {usd(cost)} ({story}) exceeds the limit of "
                     f"{usd(limits.max_order_notional)}", _size_field(order))
    if order.qty is not None and order.qty > limits.max_order_qty:
        yield reason("ORDER_QTY_EXCEEDS_LIMIT", f"order qty {shares(order.qty)} exceeds the limit of "
                     f"{shares(limits.max_order_qty)} shares", "qty")


def check_position(order: OrderFields, ctx: RiskContext, limits: Limits) -> Iterator[RejectionReason]:
    quote = usable_quote(ctx, limits)
    qty = order_shares(order, quote)
    if qty is None or qty <= 0:
        return
    now_abs, after = abs(ctx.position_qty), ctx.position_qty + signed(order, qty)
    if abs(after) <= now_abs:  # reduces (or keeps) the position: always allowed
        return
    field = _size_field(order)
    if abs(after) > limits.max_position_qty:
        yield reason("POSITION_QTY_EXCEEDS_LIMIT", f"the {order.symbol} position would go from "
                     f"{shares(ctx.position_qty)} to {shares(after)} shares, over the limit of "
                     f"{shares(limits.max_position_qty)}", field)
    ref = reference_price(quote)
    if ref is None:
        return
    value = abs(after) * ref
    if value > limits.max_position_notional:
        yield reason("POSITION_NOTIONAL_EXCEEDS_LIMIT", f"the {order.symbol} position would be worth {usd(value)} "
                     f"({shares(after)} shares at {quoted(ref)}), over the limit of "
                     f"{usd(limits.max_position_notional)}", field)
    gross = ctx.account_gross_exposure + (abs(after) - now_abs) * ref
    if gross > limits.max_account_gross_exposure:
        yield reason("GROSS_EXPOSURE_EXCEEDS_LIMIT", f"account gross exposure would go from "
                     f"{usd(ctx.account_gross_exposure)} to {usd(gross)}, over the limit of "
                     f"{usd(limits.max_account_gross_exposure)}", field)


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
    of a buy; of a sell, the part that opens or grows a short. None when it cannot be known."""
    quote = usable_quote(ctx, limits)
    cost, _ = estimate(order, quote)
    return buying_power_needed(order.side, cost, order_shares(order, quote), ctx.position_qty)


def needs_buying_power(order: OrderFields, ctx: RiskContext, limits: Limits) -> bool:
    """Whether the order may need buying power (so the account must be known and fresh): every buy, and any
    sell that is not provably covered by the long position."""
    if order.side is OrderSide.BUY:
        return True
    qty = order_shares(order, usable_quote(ctx, limits))
    return qty is None or qty > max(ctx.position_qty, Decimal(0))


def check_buying_power(order: OrderFields, ctx: RiskContext, limits: Limits) -> Iterator[RejectionReason]:
    account = ctx.account
    if account is None or is_stale(account.as_of, ctx.now, limits.max_account_age_s):
        return
    needed = buying_power_used(order, ctx, limits)
    if needed is not None and needed > account.buying_power:
        what = "estimated cost" if order.side is OrderSide.BUY else "estimated value of the short sale"
        yield reason("INSUFFICIENT_BUYING_POWER", f"{what} {usd(needed)} exceeds the buying power of "
                     f"{usd(account.buying_power)}", _size_field(order))


def check_price_collar(order: OrderFields, ctx: RiskContext, limits: Limits) -> Iterator[RejectionReason]:
    ref = reference_price(usable_quote(ctx, limits))
    if ref is None:
        return
    for name in sorted(PRICES_BY_TYPE[order.type]):
        value: Decimal | None = getattr(order, name)
        if value is None or value <= 0:
            continue
        away = abs(value - ref) / ref * _HUNDRED
        if away > limits.price_collar_pct:
            yield reason("PRICE_COLLAR", f"{name.replace('_', ' ')} {price(value)} is {pct(away)} away from the "
                         f"reference price {quoted(ref)} (mid or last); the collar is "
                         f"{pct(limits.price_collar_pct)}", name)
