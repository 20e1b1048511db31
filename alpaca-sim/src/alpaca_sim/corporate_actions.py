"""Mandatory corporate actions as Alpaca books them: splits, cash dividends, returns of capital, symbol changes.

``POST /admin/corporate_actions`` applies one at once (Alpaca runs them before the open of their ex-date). What it
does, per Alpaca's docs (docs.alpaca.markets/docs/mandatory-corporate-actions) and activity samples:

* the account: the position (quantity × ratio, average price ÷ ratio, fractions kept; or the symbol moved) and the
  cash (dividends), with the activity legs in ``ledger.py`` (SPLIT FSPLIT/RSPLIT, DIV CDIV/ROC, NC SNC);
* the orders: a reverse split cancels the symbol's open orders; a forward split adjusts the open GTC buy limits and
  sell stops that have not filled (quantity × ratio in whole shares, prices ÷ ratio rounded down to the tick) and
  cancels the symbol's other open orders (Alpaca documents only those adjustments); a symbol change cancels them;
* the market: a split divides the symbol's quotes by the ratio; after a symbol change the new symbol quotes where
  the old one did (pinned: set it with ``PUT /admin/quotes``), and the old asset stays listed, inactive.

``ex_date`` (optional, YYYY-MM-DD) defaults to the next NYSE trading day after today in New York: the action takes
effect before the next session, after every execution the account has made so far.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from tradebus_contracts.trading_day import NEW_YORK

from .assets import Asset
from .broker import Broker
from .errors import invalid, not_found
from .ledger import CorporateAction
from .numbers import fmt, optional_decimal, tick_for
from .nyse import is_trading_day
from .orders import Order

KINDS = ("split", "dividend", "return_of_capital", "name_change")
_SYMBOL = re.compile(r"[A-Z][A-Z0-9.]{0,11}")
_RATE_KEYS = ("rate", "cash", "amount", "per_share_amount")  # "rate" is Alpaca's name; the others kept for old callers


def corporate_action(broker: Broker, payload: Any) -> dict[str, Any]:
    """POST /admin/corporate_actions: ``{"type": "split", "symbol", "new_rate", "old_rate"}``,
    ``{"type": "dividend" | "return_of_capital", "symbol", "rate"}`` (per share) or
    ``{"type": "name_change", "symbol", "new_symbol"}``; each may carry ``ex_date``."""
    if not isinstance(payload, dict):
        raise invalid("request body must be a JSON object")
    kind = payload.get("type")
    if kind not in KINDS:
        raise invalid(f"type must be one of {', '.join(KINDS)}")
    asset = broker.assets.find(str(payload.get("symbol") or ""))
    if asset is None:
        raise not_found("asset not found")
    action = CorporateAction.new(_ex_date(broker, payload.get("ex_date")))
    before = len(broker.ledger.activities)
    if kind == "split":
        result = _split(broker, asset, payload, action)
    elif kind == "name_change":
        result = _name_change(broker, asset, payload, action)
    else:
        result = _cash(broker, asset, payload, action, "CDIV" if kind == "dividend" else "ROC")
    broker.version += 1
    legs = [a["id"] for a in broker.ledger.activities[before:]]
    return {"type": kind, "symbol": asset.symbol, "ca_id": action.ca_id, "group_id": action.group_id,
            "ex_date": action.ex_date.isoformat(), "activities": legs, **result}


def list_asset(broker: Broker, asset: Asset) -> Asset:
    """A new listing and its market (also replayed when a saved state is loaded)."""
    broker.assets.add_listing(asset)
    broker.feed.add(asset.symbol, asset.price)
    return asset


def rename_symbol(broker: Broker, old: str, new: str) -> Asset:
    """The asset and its market move to ``new`` (also replayed when a saved state is loaded)."""
    renamed = broker.assets.rename(old, new)
    quote = broker.feed.quote(old)
    broker.feed.pin(new, quote.bid, quote.ask)
    return renamed


def _split(broker: Broker, asset: Asset, payload: dict, action: CorporateAction) -> dict[str, Any]:
    new_rate = optional_decimal(payload.get("new_rate", payload.get("ratio")), "new_rate")
    old_rate = optional_decimal(payload.get("old_rate", 1), "old_rate")
    if not new_rate or not old_rate or new_rate <= 0 or old_rate <= 0:
        raise invalid("new_rate and old_rate must be > 0")
    if new_rate == old_rate:
        raise invalid("new_rate and old_rate must differ")
    ratio = new_rate / old_rate
    for order in broker.orders.open(asset.symbol):
        if ratio < 1 or not _adjust(broker, order, ratio):
            _cancel(broker, order)
    position = broker.ledger.split(asset.symbol, new_rate, old_rate, broker.now(), action,
                                   broker.assets.cusip(asset.symbol))
    broker.feed.scale(asset.symbol, ratio)
    return {"ratio": fmt(ratio), "position_qty": fmt(position.qty) if position else "0"}


def _cash(broker: Broker, asset: Asset, payload: dict, action: CorporateAction, subtype: str) -> dict[str, Any]:
    raw = next((payload[k] for k in _RATE_KEYS if payload.get(k) is not None), None)
    rate = optional_decimal(raw, "rate")
    if rate is None or rate <= 0:
        raise invalid("a dividend or return of capital needs a positive per-share 'rate'")
    amount = broker.ledger.dividend(asset.symbol, rate, broker.now(), action, broker.assets.cusip(asset.symbol),
                                    subtype)
    return {"per_share_amount": fmt(rate), "net_amount": fmt(amount)}


def _name_change(broker: Broker, asset: Asset, payload: dict, action: CorporateAction) -> dict[str, Any]:
    new_symbol = payload.get("new_symbol")
    if not isinstance(new_symbol, str) or not new_symbol.strip():
        raise invalid("name_change needs a new_symbol")
    new_symbol = new_symbol.strip().upper()
    if not _SYMBOL.fullmatch(new_symbol):
        raise invalid("new_symbol must be 1-12 letters, digits or dots, starting with a letter")
    if broker.assets.find(new_symbol) is not None:
        raise invalid(f"new_symbol {new_symbol} is already listed")
    if not asset.tradable:
        raise invalid(f"asset {asset.symbol} is not active")
    for order in broker.orders.open(asset.symbol):
        _cancel(broker, order)
    cusip = broker.assets.cusip(asset.symbol)
    renamed = rename_symbol(broker, asset.symbol, new_symbol)
    if asset.symbol in broker.liquidity:
        broker.liquidity[new_symbol] = broker.liquidity.pop(asset.symbol)
    position = broker.ledger.name_change(asset.symbol, new_symbol, renamed.id, broker.now(), action, cusip)
    return {"new_symbol": new_symbol, "position_qty": fmt(position.qty) if position else "0"}


def _ex_date(broker: Broker, raw: Any) -> date:
    if raw is not None:
        try:
            return date.fromisoformat(str(raw))
        except ValueError:
            raise invalid("ex_date must be a date (YYYY-MM-DD)") from None
    day = broker.now().astimezone(NEW_YORK).date() + timedelta(days=1)
    while not is_trading_day(day):
        day += timedelta(days=1)
    return day


def _cancel(broker: Broker, order: Order) -> None:
    if order.status == "pending_cancel":
        broker.complete_cancel(order.id)
    else:
        broker.cancel(order.id)


def _adjust(broker: Broker, order: Order, ratio: Decimal) -> bool:
    """A forward split's adjustment of an untouched GTC buy limit or sell stop (stop limit); False: not adjustable."""
    adjustable = (order.side == "buy" and order.type == "limit") or (order.side == "sell" and order.type in
                                                                     ("stop", "stop_limit"))
    if not adjustable or order.time_in_force != "gtc" or order.filled_qty or order.qty is None:
        return False
    qty = (order.qty * ratio).to_integral_value(rounding=ROUND_DOWN)
    prices = {name: _price_down(getattr(order, name), ratio) for name in ("limit_price", "stop_price")}
    if qty <= 0 or any(p is not None and p <= 0 for p in prices.values()):
        return False
    order.qty, order.limit_price, order.stop_price = qty, prices["limit_price"], prices["stop_price"]
    order.updated_at = broker.now()
    return True


def _price_down(price: Decimal | None, ratio: Decimal) -> Decimal | None:
    if price is None:
        return None
    adjusted = price / ratio
    return adjusted.quantize(tick_for(adjusted), rounding=ROUND_DOWN)
