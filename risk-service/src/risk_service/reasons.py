"""The vocabulary of a denial: every reason code the checks can emit, and how numbers read in messages.

Codes are part of the contract with requesters and dashboards: keep them stable, add new ones here.
Money in messages is rounded half-up to cents for reading only; comparisons always use the exact Decimals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import TYPE_CHECKING

from tradebus_contracts import OrderFields, RejectionReason

if TYPE_CHECKING:
    from .limits import Limits
    from .model import RiskContext

__all__ = ["REASON_CODES", "ADVICE_CODES", "Check", "reason", "advice", "usd", "quoted", "shares", "price", "pct",
           "seconds"]

Check = Callable[["OrderFields", "RiskContext", "Limits"], Iterable[RejectionReason]]

REASON_CODES: dict[str, str] = {
    # trading state
    "TRADING_HALTED": "trading is halted: no order passes",
    "TRADING_REDUCING_ONLY": "trading is reducing-only and the order would not reduce an existing position",
    # quantity and notional
    "QTY_XOR_NOTIONAL": "exactly one of qty or notional must be given",
    "QTY_NOT_POSITIVE": "qty must be greater than 0",
    "QTY_TOO_MANY_DECIMALS": "qty has more than 9 decimal places",
    "FRACTIONAL_QTY_BELOW_MIN": "a fractional qty must be at least 0.001 shares",
    "NOTIONAL_NOT_POSITIVE": "notional must be greater than $0",
    "NOTIONAL_BELOW_MIN": "notional must be at least $1",
    "NOTIONAL_TOO_MANY_DECIMALS": "notional has more than 2 decimal places",
    "NOTIONAL_REQUIRES_MARKET": "a notional order must be a market order",
    # prices
    "LIMIT_PRICE_REQUIRED": "limit and stop_limit orders need a limit_price",
    "LIMIT_PRICE_NOT_ALLOWED": "market and stop orders take no limit_price",
    "STOP_PRICE_REQUIRED": "stop and stop_limit orders need a stop_price",
    "STOP_PRICE_NOT_ALLOWED": "market and limit orders take no stop_price",
    "PRICE_NOT_POSITIVE": "a limit or stop price must be greater than $0",
    "SUB_PENNY_PRICE": "price has more than 2 decimals (at or above $1) or more than 4 (below $1)",
    # order shape vs the asset
    "FRACTIONAL_REQUIRES_DAY": "fractional and notional orders must use time_in_force day",
    "ASSET_NOT_FRACTIONABLE": "the asset does not allow fractional or notional orders",
    "EXTENDED_HOURS_REQUIRES_LIMIT_DAY": "extended-hours orders must be limit orders with time_in_force day",
    "SYMBOL_UNKNOWN": "no asset is known for the symbol",
    "SYMBOL_NOT_TRADABLE": "the asset is not tradable",
    "SHORT_NOT_ALLOWED": "the sell would open or increase a short in an asset that is not shortable",
    "SELL_EXCEEDS_AVAILABLE": "the sell is larger than the position less what open sell orders hold: the broker "
                              "refuses it (it neither flips a long into a short in one order nor sells held shares)",
    "FRACTIONAL_SHORT_NOT_ALLOWED": "the sell would leave a fractional short position",
    # reference data
    "REFERENCE_DATA_MISSING": "a quote, the account or a price needed to check the order is missing",
    "QUOTE_STALE": "the quote is older than max_quote_age_s",
    "ACCOUNT_STALE": "the account data is older than max_account_age_s",
    "ASSET_STALE": "the asset data is older than max_asset_age_s",
    # limits
    "ORDER_NOTIONAL_EXCEEDS_LIMIT": "the order's estimated notional is over max_order_notional",
    "ORDER_QTY_EXCEEDS_LIMIT": "the order's qty is over max_order_qty",
    "POSITION_QTY_EXCEEDS_LIMIT": "the position after the order would be over max_position_qty shares",
    "POSITION_NOTIONAL_EXCEEDS_LIMIT": "the position after the order would be worth more than max_position_notional",
    "GROSS_EXPOSURE_EXCEEDS_LIMIT": "the account's gross exposure after the order would be over the limit",
    "OPEN_ORDERS_EXCEEDED": "max_open_orders orders are already open",
    "OPEN_ORDERS_PER_SYMBOL_EXCEEDED": "max_open_orders_per_symbol orders are already open in the symbol",
    "DAILY_NOTIONAL_EXCEEDED": "today's approved notional plus the order would be over max_daily_notional",
    "DAILY_NOTIONAL_PER_SYMBOL_EXCEEDED": "today's approved notional in the symbol plus the order is over its limit",
    "THROTTLED": "too many approvals within the throttle window: denied, not queued",
    "INSUFFICIENT_BUYING_POWER": "the order's estimated cost is over the account's buying power",
    # prices against the market: a collar on the side that pays too much or sells too cheaply, a sanity bound on all
    "PRICE_COLLAR_BUY_LIMIT_ABOVE_ASK": "a buy limit price is more than price_collar_pct above the ask",
    "PRICE_COLLAR_SELL_LIMIT_BELOW_BID": "a sell limit price is more than price_collar_pct below the bid",
    "PRICE_COLLAR_BUY_STOP_LIMIT_ABOVE_STOP": "a buy stop-limit's limit price is more than price_collar_pct above "
                                              "its stop price",
    "PRICE_COLLAR_SELL_STOP_LIMIT_BELOW_STOP": "a sell stop-limit's limit price is more than price_collar_pct below "
                                               "its stop price",
    "PRICE_FAR_FROM_MARKET": "a limit or stop price is more than price_sanity_pct away from the reference price",
}

ADVICE_CODES: dict[str, str] = {
    "STOP_TRIGGERS_NOW": "a buy stop at or below the ask (a sell stop at or above the bid) triggers at once",
}
"""Conditions the preview points out without refusing the order: the order is approved all the same."""

_CENT = Decimal("0.01")
_WIDE = 120  # digits: formatting never fails on a huge (contract-valid) amount; the default context has 28


def reason(code: str, message: str, field: str | None = None) -> RejectionReason:
    if code not in REASON_CODES:  # a typo here would ship an undocumented code
        raise KeyError(f"unregistered reason code {code}")
    return RejectionReason(code=code, message=message, field=field)


def advice(code: str, message: str, field: str | None = None) -> RejectionReason:
    """A condition the preview shows as a warning (``ADVICE_CODES``); never a reason to refuse."""
    if code not in ADVICE_CODES:
        raise KeyError(f"unregistered advice code {code}")
    return RejectionReason(code=code, message=message, field=field)


def usd(amount: Decimal) -> str:
    """``$61,250.00``: cents, half-up, thousands separated (any size the contracts allow: 40 digits and more)."""
    with localcontext() as ctx:
        ctx.prec = _WIDE
        cents = amount.quantize(_CENT, rounding=ROUND_HALF_UP)
        return f"{'-' if cents < 0 else ''}${abs(cents):,.2f}"


def price(value: Decimal) -> str:
    """A price or notional exactly as given (a sub-penny message must show the sub-penny digits)."""
    return f"{'-' if value < 0 else ''}${format(abs(value), 'f')}"


def quoted(value: Decimal) -> str:
    """A market price to its tick, half-up: cents at or above $1, hundredths of a cent below."""
    tick = _CENT if value >= 1 else Decimal("0.0001")
    with localcontext() as ctx:
        ctx.prec = _WIDE
        return f"${value.quantize(tick, rounding=ROUND_HALF_UP):,f}"


def shares(qty: Decimal | None) -> str:
    """``10,000`` or ``0.5``; an estimated count (a notional at a price) is shown to 9 decimals."""
    if qty is None:
        return "?"
    if qty.as_tuple().exponent < -9:  # type: ignore[operator]
        with localcontext() as ctx:
            ctx.prec = _WIDE
            qty = qty.quantize(Decimal("1e-9"), rounding=ROUND_HALF_UP)
    text = format(qty.normalize(), ",f")
    return "0" if text in ("-0", "0") else text


def pct(value: Decimal) -> str:
    """``15%``, ``15.79%``, ``525,845,196.31%``: to the hundredth, half-up, thousands separated."""
    with localcontext() as ctx:
        ctx.prec = _WIDE
        return f"{value.quantize(_CENT, rounding=ROUND_HALF_UP).normalize():,f}%"


def seconds(value: timedelta | Decimal) -> str:
    """``60s``, ``60.001s``: to the millisecond, so "61s old (limit 60s)" never reads "60s (limit 60s)"."""
    total = Decimal(str(value.total_seconds())) if isinstance(value, timedelta) else value
    return f"{total.quantize(Decimal('0.001'), rounding=ROUND_HALF_UP).normalize():,f}s"
