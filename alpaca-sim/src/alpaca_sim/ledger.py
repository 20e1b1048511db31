"""Cash, positions and account activities: the accounting half of the broker, pure and Decimal-only."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from .numbers import fmt
from .orders import iso

DEFAULT_CASH = Decimal("100000")


@dataclass
class Position:
    symbol: str
    asset_id: str
    exchange: str
    qty: Decimal
    avg_entry_price: Decimal
    marginable: bool = True

    @property
    def side(self) -> str:
        return "long" if self.qty > 0 else "short"

    @property
    def cost_basis(self) -> Decimal:
        return self.qty * self.avg_entry_price

    def to_json(self, price: Decimal, held_for_orders: Decimal = Decimal(0)) -> dict[str, Any]:
        market_value = self.qty * price
        unrealized = market_value - self.cost_basis
        plpc = unrealized / abs(self.cost_basis) if self.cost_basis else Decimal(0)
        return {
            "asset_id": self.asset_id,
            "symbol": self.symbol,
            "exchange": self.exchange,
            "asset_class": "us_equity",
            "asset_marginable": self.marginable,
            "avg_entry_price": fmt(self.avg_entry_price),
            "qty": fmt(self.qty),
            "qty_available": fmt(self.qty - held_for_orders if self.qty > 0 else self.qty + held_for_orders),
            "side": self.side,
            "market_value": fmt(market_value.quantize(Decimal("0.01"))),
            "cost_basis": fmt(self.cost_basis.quantize(Decimal("0.01"))),
            "unrealized_pl": fmt(unrealized.quantize(Decimal("0.01"))),
            "unrealized_plpc": fmt(plpc.quantize(Decimal("0.0000000001"))),
            "unrealized_intraday_pl": fmt(unrealized.quantize(Decimal("0.01"))),
            "unrealized_intraday_plpc": fmt(plpc.quantize(Decimal("0.0000000001"))),
            "current_price": fmt(price),
            "lastday_price": fmt(price),
            "change_today": "0",
        }


def activity_id(moment: datetime) -> str:
    """Alpaca's activity ids: a sortable timestamp, '::', a uuid."""
    return moment.strftime("%Y%m%d%H%M%S%f")[:17] + "::" + str(uuid.uuid4())


class Ledger:
    """Cash, positions by symbol and the activity journal."""

    def __init__(self, cash: Decimal = DEFAULT_CASH) -> None:
        self.cash = cash
        self.positions: dict[str, Position] = {}
        self.activities: list[dict[str, Any]] = []

    def qty(self, symbol: str) -> Decimal:
        position = self.positions.get(symbol)
        return position.qty if position else Decimal(0)

    def apply_fill(self, symbol: str, asset_id: str, exchange: str, side: str, qty: Decimal, price: Decimal) -> Decimal:
        """Book one execution; returns the position quantity after it."""
        signed = qty if side == "buy" else -qty
        self.cash -= signed * price
        position = self.positions.get(symbol)
        if position is None:
            self.positions[symbol] = Position(symbol, asset_id, exchange, signed, price)
            return signed
        old = position.qty
        new = old + signed
        if new == 0:
            del self.positions[symbol]
        elif old == 0 or (old > 0) != (new > 0):
            position.qty, position.avg_entry_price = new, price
        elif abs(new) > abs(old):
            position.avg_entry_price = (old * position.avg_entry_price + signed * price) / new
            position.qty = new
        else:
            position.qty = new
        return new

    def record(self, activity: dict[str, Any]) -> None:
        self.activities.append(activity)

    def fill_activity(self, moment: datetime, order_json: dict, qty: Decimal, price: Decimal, leaves: Decimal) -> dict:
        activity = {
            "id": activity_id(moment),
            "activity_type": "FILL",
            "transaction_time": iso(moment),
            "type": "fill" if order_json["status"] == "filled" else "partial_fill",
            "price": fmt(price),
            "qty": fmt(qty),
            "side": order_json["side"],
            "symbol": order_json["symbol"],
            "leaves_qty": fmt(leaves),
            "order_id": order_json["id"],
            "cum_qty": order_json["filled_qty"],
            "order_status": order_json["status"],
        }
        self.record(activity)
        return activity

    def split(self, symbol: str, ratio: Decimal, moment: datetime) -> Position | None:
        """new_rate:old_rate split: quantity times ratio, price divided by it, cost basis unchanged."""
        position = self.positions.get(symbol)
        if position is None:
            return None
        old_qty, old_price = position.qty, position.avg_entry_price
        position.qty = old_qty * ratio
        position.avg_entry_price = old_price / ratio
        for qty, price in ((-old_qty, old_price), (position.qty, position.avg_entry_price)):
            self.record(self._non_trade(moment, "SPLIT", symbol, Decimal(0), qty=qty, price=price,
                                        description=f"{symbol} stock split {fmt(ratio)}:1"))
        return position

    def dividend(self, symbol: str, per_share: Decimal, moment: datetime) -> Decimal:
        """Cash dividend on the position held; a short position pays it."""
        qty = self.qty(symbol)
        if qty == 0:
            return Decimal(0)
        amount = (qty * per_share).quantize(Decimal("0.01"))
        self.cash += amount
        self.record(self._non_trade(moment, "DIV", symbol, amount, qty=qty, per_share_amount=per_share,
                                    description=f"Cash DIV @ {fmt(per_share)}, Pos QTY: {fmt(qty)}"))
        return amount

    @staticmethod
    def _non_trade(moment: datetime, kind: str, symbol: str, net: Decimal, **fields: Any) -> dict[str, Any]:
        activity = {
            "id": activity_id(moment),
            "activity_type": kind,
            "date": moment.date().isoformat(),
            "net_amount": fmt(net),
            "symbol": symbol,
            "status": "executed",
        }
        activity.update({k: fmt(v) if isinstance(v, Decimal) else v for k, v in fields.items()})
        return activity
