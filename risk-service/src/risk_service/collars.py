"""Prices against the market: the collar on the side that trades at once, a sanity bound on every price, and the
advice that a stop would trigger at once. Same shape as the other checks: pure, silent without a usable quote.

A collar exists to stop a fat finger from *paying* too much or *selling* too cheaply, as exchanges' limit-order
price protection does, so it sits on the marketable side only:

* a buy limit more than ``price_collar_pct`` above the ask (a sell limit below the bid) would trade at once at a
  price nobody meant; a buy stop-limit whose limit is that far above its stop (a sell's below) would, once
  triggered, pay as far past the trigger;
* a passive limit (a buy under the ask: a resting bid; a sell over the bid) and a protective stop (a sell stop
  under the market: a stop-loss) wait for the market to come to them: any distance is fine up to the sanity bound,
  ``price_sanity_pct`` from the reference price (mid, else last) — a price with its decimal point in the wrong
  place, or 1e9, is still refused;
* a stop the market has already passed (a buy stop at or below the ask, a sell stop at or above the bid) triggers
  the moment it arrives. That may be what the trader wants: the preview says so (`stop_advice`), the decision
  does not refuse it.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from tradebus_contracts import OrderFields, OrderSide, OrderType, RejectionReason

from .limits import Limits
from .model import Quote, RiskContext
from .pricing import PRICES_BY_TYPE, far_side_price, reference_price, usable_quote
from .reasons import advice, pct, price, quoted, reason

__all__ = ["check_price_collar", "stop_advice"]

_HUNDRED = Decimal(100)


def check_price_collar(order: OrderFields, ctx: RiskContext, limits: Limits) -> Iterator[RejectionReason]:
    quote = usable_quote(ctx, limits)
    ref = reference_price(quote)
    if quote is None or ref is None:
        return
    collared = None
    for found in _marketable_side(order, quote, ref, limits.price_collar_pct):
        collared = found.field
        yield found
    for name in sorted(PRICES_BY_TYPE[order.type]):
        value: Decimal | None = getattr(order, name)
        if value is None or value <= 0 or name == collared:  # one reason per price
            continue
        away = abs(value - ref) / ref * _HUNDRED
        if away > limits.price_sanity_pct:
            yield reason("PRICE_FAR_FROM_MARKET", f"{name.replace('_', ' ')} {price(value)} is {pct(away)} away from "
                         f"the reference price {quoted(ref)} (mid or last); no limit or stop price may be more than "
                         f"{pct(limits.price_sanity_pct)} away", name)


def _marketable_side(order: OrderFields, quote: Quote, ref: Decimal, collar: Decimal) -> Iterator[RejectionReason]:
    limit, stop, buy = order.limit_price, order.stop_price, order.side is OrderSide.BUY
    if limit is None or limit <= 0:
        return
    if order.type is OrderType.LIMIT:
        touch = far_side_price(order, quote)
        label = ("the ask" if buy else "the bid") if touch is not None else "the reference price (mid or last)"
        touch = touch or ref
        away = (limit - touch if buy else touch - limit) / touch * _HUNDRED
        if away > collar:
            code = "PRICE_COLLAR_BUY_LIMIT_ABOVE_ASK" if buy else "PRICE_COLLAR_SELL_LIMIT_BELOW_BID"
            yield reason(code, f"a {order.side} limit at {price(limit)} is {pct(away)} {'above' if buy else 'below'} "
                         f"{label} {quoted(touch)}; the collar is {pct(collar)}", "limit_price")
    elif order.type is OrderType.STOP_LIMIT and stop is not None and stop > 0:
        away = (limit - stop if buy else stop - limit) / stop * _HUNDRED
        if away > collar:
            code = "PRICE_COLLAR_BUY_STOP_LIMIT_ABOVE_STOP" if buy else "PRICE_COLLAR_SELL_STOP_LIMIT_BELOW_STOP"
            yield reason(code, f"a {order.side} stop-limit's limit {price(limit)} is {pct(away)} "
                         f"{'above' if buy else 'below'} its stop {price(stop)}; the collar is {pct(collar)}",
                         "limit_price")


def stop_advice(order: OrderFields, ctx: RiskContext, limits: Limits) -> list[RejectionReason]:
    """The preview's warning that a stop triggers the moment it arrives (not a reason to refuse it)."""
    stop = order.stop_price
    if order.type not in (OrderType.STOP, OrderType.STOP_LIMIT) or stop is None or stop <= 0:
        return []
    touch = far_side_price(order, usable_quote(ctx, limits))
    buy = order.side is OrderSide.BUY
    if touch is None or (stop > touch if buy else stop < touch):
        return []
    becomes = "a market" if order.type is OrderType.STOP else "a limit"
    return [advice("STOP_TRIGGERS_NOW", f"a {order.side} stop at {price(stop)} is at or "
                   f"{'below the ask' if buy else 'above the bid'} {quoted(touch)}: it triggers as soon as it "
                   f"arrives and becomes {becomes} order at once", "stop_price")]
