"""Pre-trade risk checks: pure functions over an order, its context and the limits.

Each check yields ``RejectionReason``s with a stable code from ``REASON_CODES`` and a message that names the
numbers. ``evaluate`` runs every check (no short-circuit: the requester sees all that is wrong at once) in a
fixed order. A check whose reference data is missing or stale yields nothing itself; the reference-data check
reports REFERENCE_DATA_MISSING / *_STALE instead, so nothing is approved on a guess.

Checks receive the limits already narrowed to the order's symbol (``Limits.for_symbol``).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal, localcontext

from tradebus_contracts import OrderFields, OrderSide, OrderType, RejectionReason, TimeInForce, TradingState
from tradebus_contracts.decimal_types import decimal_places
from tradebus_contracts.exposure import opposes_position
from tradebus_contracts.projection import EXACT

from .collars import check_price_collar
from .limit_checks import (
    check_buying_power,
    check_daily_notional,
    check_open_orders,
    check_order_size,
    check_position,
    check_throttle,
    needs_buying_power,
    working_story,
)
from .limits import Limits
from .model import RiskContext, Verdict
from .pricing import (
    PRICES_BY_TYPE,
    estimate,
    far_side_price,
    is_fractional,
    is_stale,
    order_shares,
    reference_price,
    usable_quote,
)
from .reasons import REASON_CODES, Check, price, reason, seconds, shares

__all__ = [
    "REASON_CODES",
    "CHECKS",
    "Check",
    "evaluate",
    "estimate",
    "check_trading_state",
    "check_quantity",
    "check_prices",
    "check_fractional",
    "check_extended_hours",
    "check_symbol",
    "check_short",
    "check_reference_data",
]

MAX_QTY_DECIMALS = 9
MIN_FRACTIONAL_QTY = Decimal("0.001")
MIN_NOTIONAL = Decimal("1")


def check_trading_state(order: OrderFields, ctx: RiskContext, limits: Limits) -> Iterator[RejectionReason]:
    if ctx.trading_state is TradingState.HALTED:
        yield reason("TRADING_HALTED", "trading is halted: no order passes until trading is resumed")
    elif ctx.trading_state is TradingState.REDUCING:
        projection = ctx.projection
        qty = order_shares(order, usable_quote(ctx, limits))
        pos = projection.settled
        if not opposes_position(order.side, pos):
            held = f"the {order.symbol} position of {shares(pos)} shares" if pos else f"no {order.symbol} position"
            yield reason("TRADING_REDUCING_ONLY", f"trading is reducing-only and a {order.side} would not reduce "
                         f"{held}", "side")
        # Past the position is not reducing: selling 150 of a 100 long opens a 50 short; nor is selling 100 twice,
        # once the first sell of 100 is working. A qty that is not positive (or unknown) is for the quantity and
        # reference-data checks to report.
        elif qty is not None and qty > 0 and not projection.reduces(order.side, qty):
            yield reason("TRADING_REDUCING_ONLY", f"trading is reducing-only and {order.side} {shares(qty)} "
                         f"shares would go past the {order.symbol} position of {shares(pos)} shares"
                         f"{working_story(projection, order.side)}", "qty")


def check_quantity(order: OrderFields, ctx: RiskContext, limits: Limits) -> Iterator[RejectionReason]:
    qty, notional = order.qty, order.notional
    if (qty is None) == (notional is None):
        given = "both were" if qty is not None else "neither was"
        yield reason("QTY_XOR_NOTIONAL", f"exactly one of qty or notional is required, {given} given", "qty")
    if qty is not None:
        if qty <= 0:
            yield reason("QTY_NOT_POSITIVE", f"qty must be greater than 0, got {shares(qty)}", "qty")
        elif qty < MIN_FRACTIONAL_QTY:
            yield reason("FRACTIONAL_QTY_BELOW_MIN",
                         f"fractional qty {shares(qty)} is below the minimum of {MIN_FRACTIONAL_QTY} shares", "qty")
        if decimal_places(qty) > MAX_QTY_DECIMALS:
            yield reason("QTY_TOO_MANY_DECIMALS",
                         f"qty {shares(qty)} has {decimal_places(qty)} decimals; at most {MAX_QTY_DECIMALS}", "qty")
    if notional is not None:
        if notional <= 0:
            yield reason("NOTIONAL_NOT_POSITIVE", f"notional must be greater than $0, got {price(notional)}",
                         "notional")
        elif notional < MIN_NOTIONAL:
            yield reason("NOTIONAL_BELOW_MIN", f"notional {price(notional)} is below the minimum of $1.00",
                         "notional")
        if decimal_places(notional) > 2:
            yield reason("NOTIONAL_TOO_MANY_DECIMALS",
                         f"notional {price(notional)} has {decimal_places(notional)} decimals; at most 2 (cents)", "notional")
        if order.type is not OrderType.MARKET:
            yield reason("NOTIONAL_REQUIRES_MARKET",
                         f"a notional order must be a market order, not {order.type}", "type")


def check_prices(order: OrderFields, ctx: RiskContext, limits: Limits) -> Iterator[RejectionReason]:
    needed = PRICES_BY_TYPE[order.type]
    for name in ("limit_price", "stop_price"):
        value: Decimal | None = getattr(order, name)
        label = name.replace("_", " ")
        code = name.upper()
        if name in needed and value is None:
            yield reason(f"{code}_REQUIRED", f"a {order.type} order needs a {label}", name)
        elif name not in needed and value is not None:
            yield reason(f"{code}_NOT_ALLOWED", f"a {order.type} order takes no {label}, got {price(value)}", name)
        elif value is not None and value <= 0:
            yield reason("PRICE_NOT_POSITIVE", f"{label} must be greater than $0, got {price(value)}", name)
        elif value is not None:
            allowed = 2 if value >= 1 else 4
            if decimal_places(value) > allowed:
                yield reason("SUB_PENNY_PRICE", f"{label} {price(value)} has {decimal_places(value)} decimals; prices "
                             f"{'at or above' if allowed == 2 else 'below'} $1 allow at most {allowed}", name)


def check_fractional(order: OrderFields, ctx: RiskContext, limits: Limits) -> Iterator[RejectionReason]:
    if not is_fractional(order):
        return
    kind = "a notional" if order.notional is not None else f"a fractional qty ({shares(order.qty)})"
    if order.time_in_force is not TimeInForce.DAY:
        yield reason("FRACTIONAL_REQUIRES_DAY",
                     f"{kind} order must use time_in_force day, not {order.time_in_force}", "time_in_force")
    asset = ctx.asset
    if asset is not None and not is_stale(asset.as_of, ctx.now, limits.max_asset_age_s) and not asset.fractionable:
        yield reason("ASSET_NOT_FRACTIONABLE", f"{order.symbol} is not fractionable, so {kind} order is refused",
                     "qty" if order.notional is None else "notional")


def check_extended_hours(order: OrderFields, ctx: RiskContext, limits: Limits) -> Iterator[RejectionReason]:
    if order.extended_hours and (order.type is not OrderType.LIMIT or order.time_in_force is not TimeInForce.DAY):
        yield reason("EXTENDED_HOURS_REQUIRES_LIMIT_DAY", "an extended-hours order must be a limit order with "
                     f"time_in_force day, not {order.type} / {order.time_in_force}", "extended_hours")


def check_symbol(order: OrderFields, ctx: RiskContext, limits: Limits) -> Iterator[RejectionReason]:
    asset = ctx.asset
    if asset is None:
        yield reason("SYMBOL_UNKNOWN", f"{order.symbol} is not a known asset", "symbol")
    elif is_stale(asset.as_of, ctx.now, limits.max_asset_age_s):
        yield reason("ASSET_STALE", f"asset data for {order.symbol} is {seconds(ctx.now - asset.as_of)} old "
                     f"(limit {seconds(limits.max_asset_age_s)})", "symbol")
    elif not asset.tradable:
        yield reason("SYMBOL_NOT_TRADABLE", f"{order.symbol} is not tradable", "symbol")


def check_short(order: OrderFields, ctx: RiskContext, limits: Limits) -> Iterator[RejectionReason]:
    qty = order_shares(order, usable_quote(ctx, limits))
    if order.side is not OrderSide.SELL or qty is None or qty <= 0:
        return
    projection = ctx.projection
    after = projection.worst_after(OrderSide.SELL, qty)  # None: open sells of unknown size, so maybe short
    if after is not None and after >= 0:
        return
    story = (f"selling {shares(qty)} {order.symbol} from a position of {shares(projection.settled)}"
             f"{working_story(projection, OrderSide.SELL)} would leave "
             f"{'an unknown short' if after is None else f'{shares(after)} shares'}")
    if is_fractional(order) or (after is not None and after != after.to_integral_value()):
        yield reason("FRACTIONAL_SHORT_NOT_ALLOWED", f"{story}: fractional short sales are not allowed", "qty")
    asset = ctx.asset
    if asset is not None and not is_stale(asset.as_of, ctx.now, limits.max_asset_age_s) and not asset.shortable:
        yield reason("SHORT_NOT_ALLOWED", f"{story}: {order.symbol} is not shortable", "qty")


LIFTED_BY_FILLS = frozenset({"SELL_EXCEEDS_AVAILABLE"})
"""Refusals that a fill already published, but not yet in the book, may lift: the position the broker holds now is
the one check that reads fills the moment they are recorded (a trader who sells the shares a buy has just filled
saw that fill before sending the sell). The request consumer decides such a batch again once every fill published
is in the book (``handlers.RiskHandlers``)."""


def check_sell_available(order: OrderFields, ctx: RiskContext, limits: Limits) -> Iterator[RejectionReason]:
    """The broker's own rule for a sell (Alpaca; alpaca-sim models it): it may sell what the position holds beyond
    what open sell orders already hold back; more than that — flipping a long into a short in one order, or adding
    a sell while others hold the shares (a stop-loss resting on the whole position) — it refuses ("insufficient qty
    available"). Only from flat, with no sell open, does a sell open a short (`check_short`). Refused here, with the
    numbers, rather than approved and then refused by the broker. The position is the best estimate of the broker's
    now (`Book.position_now`), not the projection's worst case: a check that refuses must not count a fill twice."""
    qty = order_shares(order, usable_quote(ctx, limits))
    held = ctx.open_sell_qty
    at_broker = ctx.position_qty if ctx.position_at_broker is None else ctx.position_at_broker
    if order.side is not OrderSide.SELL or qty is None or qty <= 0 or held is None:
        return  # open sells of unknown size: the position check already refuses what cannot be bounded
    available = max(at_broker, Decimal(0)) - held
    if qty <= available or (at_broker <= 0 and held == 0):
        return
    holds = f"; open sell orders hold {shares(held)}" if held else ""
    yield reason("SELL_EXCEEDS_AVAILABLE",
                 f"selling {shares(qty)} {order.symbol}: the position is {shares(at_broker)}{holds}, so "
                 f"{shares(max(available, Decimal(0)))} are available; the broker refuses a sell beyond that (it "
                 f"neither turns a long into a short in one order nor sells shares other orders hold)", "qty")


def check_reference_data(order: OrderFields, ctx: RiskContext, limits: Limits) -> Iterator[RejectionReason]:
    quote = ctx.quote
    if quote is None:
        yield reason("REFERENCE_DATA_MISSING", f"no quote for {order.symbol}: cannot price the order")
    elif is_stale(quote.as_of, ctx.now, limits.max_quote_age_s):
        yield reason("QUOTE_STALE", f"the {order.symbol} quote is {seconds(ctx.now - quote.as_of)} old "
                     f"(limit {seconds(limits.max_quote_age_s)})")
    elif reference_price(quote) is None:
        yield reason("REFERENCE_DATA_MISSING", f"the {order.symbol} quote has no bid/ask and no last price")
    elif (order.type is OrderType.MARKET or order.notional is not None) and far_side_price(order, quote) is None:
        side = "ask" if order.side is OrderSide.BUY else "bid"
        yield reason("REFERENCE_DATA_MISSING", f"the {order.symbol} quote has no {side} to price a market {order.side}")
    if needs_buying_power(order, ctx, limits):
        account = ctx.account
        if account is None:
            yield reason("REFERENCE_DATA_MISSING", "no account data: cannot check buying power")
        elif is_stale(account.as_of, ctx.now, limits.max_account_age_s):
            yield reason("ACCOUNT_STALE", f"account data is {seconds(ctx.now - account.as_of)} old "
                         f"(limit {seconds(limits.max_account_age_s)})")


CHECKS: tuple[Check, ...] = (
    check_trading_state,
    check_quantity,
    check_prices,
    check_fractional,
    check_extended_hours,
    check_symbol,
    check_short,
    check_sell_available,
    check_reference_data,
    check_order_size,
    check_position,
    check_open_orders,
    check_daily_notional,
    check_throttle,
    check_buying_power,
    check_price_collar,
)


def evaluate(order: OrderFields, ctx: RiskContext, limits: Limits) -> Verdict:
    """Run every check against the order's effective limits; approved iff no check found anything. The arithmetic
    is exact for every value the contracts carry (``projection.EXACT``): no comparison is made on a rounded sum."""
    effective = limits.for_symbol(order.symbol)
    with localcontext(EXACT):
        reasons = [found for check in CHECKS for found in check(order, ctx, effective)]
        quote = usable_quote(ctx, effective)
        cost, basis = estimate(order, quote)
        qty = order_shares(order, quote)
    if not reasons and cost is None:  # never approve what cannot be charged against the daily caps
        reasons.append(reason("REFERENCE_DATA_MISSING", "the order's cost cannot be estimated"))
    return Verdict(approved=not reasons, reasons=tuple(reasons), estimated_cost=cost, price_basis=basis, shares=qty)
