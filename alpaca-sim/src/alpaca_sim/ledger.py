"""Cash, positions and account activities: the accounting half of the broker, pure and Decimal-only."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .numbers import fmt, round_qty_down
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


@dataclass(frozen=True)
class CorporateAction:
    """What every leg of one corporate action shares: its ids and its dates (Alpaca's activity ``details``)."""

    ca_id: str
    group_id: str
    ex_date: date

    @classmethod
    def new(cls, ex_date: date) -> CorporateAction:
        return cls(str(uuid.uuid4()), str(uuid.uuid4()), ex_date)

    def details(self, booked: datetime) -> dict[str, Any]:
        day = self.ex_date.isoformat()
        return {"ca_id": self.ca_id, "group_id": self.group_id, "system_date": booked.date().isoformat(),
                "position_date": day, "ex_date": day, "record_date": day, "payable_date": day}


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

    def _next_id(self, moment: datetime) -> str:
        """A new activity id later than every id before it, so the journal's order is its id order and a
        ``page_token`` (an id) cuts it exactly; two activities in one millisecond get consecutive milliseconds."""
        new = activity_id(moment)
        last = self.activities[-1]["id"] if self.activities else ""
        if new[:17] <= last[:17]:
            stamp = datetime.strptime(last[:17] + "000", "%Y%m%d%H%M%S%f") + timedelta(milliseconds=1)
            new = activity_id(stamp)
        return new

    def fill_activity(self, moment: datetime, order_json: dict, qty: Decimal, price: Decimal, leaves: Decimal) -> dict:
        activity = {
            "id": self._next_id(moment),
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

    def split(self, symbol: str, new_rate: Decimal, old_rate: Decimal, moment: datetime,
              action: CorporateAction | None = None, cusip: str | None = None) -> Position | None:
        """new_rate:old_rate split: quantity times the ratio (cut to 9 decimals, the fraction kept, no cash in lieu),
        average price divided by it; cost basis unchanged. Two SPLIT legs as Alpaca books them: the removal of the
        old shares at the old per-share cost and the allocation of the new ones at the new per-share cost (4
        decimals, as in Alpaca's samples), ``net_amount`` 0, one ``group_id``."""
        position = self.positions.get(symbol)
        if position is None:
            return None
        action = action or CorporateAction.new(moment.date())
        ratio = new_rate / old_rate
        old_qty, old_price = position.qty, position.avg_entry_price
        position.qty = round_qty_down(old_qty * ratio)
        position.avg_entry_price = old_price / ratio
        if position.qty == 0:  # a sliver below Alpaca's 9-decimal precision: nothing is left to hold
            del self.positions[symbol]
        new_price = position.avg_entry_price.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
        details = {**action.details(moment), "symbol": symbol, "old_rate": fmt(old_rate), "new_rate": fmt(new_rate),
                   "old_qty": fmt(old_qty), "new_qty": fmt(position.qty), "old_cusip": cusip, "new_cusip": cusip}
        subtype = "FSPLIT" if ratio > 1 else "RSPLIT"
        text = f"{symbol} {'forward' if ratio > 1 else 'reverse'} split {fmt(new_rate)}:{fmt(old_rate)}"
        for qty, price in ((-old_qty, old_price), (position.qty, new_price)):
            self.record(self._non_trade(moment, "SPLIT", subtype, symbol, Decimal(0), action, details, cusip,
                                        qty=qty, price=price, description=text))
        return position

    def dividend(self, symbol: str, per_share: Decimal, moment: datetime, action: CorporateAction | None = None,
                 cusip: str | None = None, subtype: str = "CDIV") -> Decimal:
        """Cash on the position held (a short position pays it): one DIV leg, CDIV or ROC. A return of capital also
        lowers a long position's average price by the rate (not below 0): it gives back part of the cost."""
        qty = self.qty(symbol)
        if qty == 0:
            return Decimal(0)
        action = action or CorporateAction.new(moment.date())
        amount = (qty * per_share).quantize(Decimal("0.01"))
        self.cash += amount
        position = self.positions[symbol]
        if subtype == "ROC" and qty > 0:
            position.avg_entry_price = max(position.avg_entry_price - per_share, Decimal(0))
        details = {**action.details(moment), "symbol": symbol, "cusip": cusip, "rate": fmt(per_share),
                   "foreign": "false", "special": "false", "entitled_qty": fmt(qty), "cash_payout": fmt(amount)}
        label = "Cash DIV" if subtype == "CDIV" else "Return of capital"
        self.record(self._non_trade(moment, "DIV", subtype, symbol, amount, action, details, cusip, qty=qty,
                                    per_share_amount=per_share,
                                    description=f"{label} @ {fmt(per_share)}, Pos QTY: {fmt(qty)}"))
        return amount

    def name_change(self, old: str, new: str, asset_id: str, moment: datetime, action: CorporateAction | None = None,
                    cusip: str | None = None) -> Position | None:
        """A symbol change (SNC, the CUSIP kept): the position moves to ``new`` unchanged; two NC legs, the old
        symbol removed and the new one allocated at the same per-share cost."""
        position = self.positions.pop(old, None)
        if position is None:
            return None
        action = action or CorporateAction.new(moment.date())
        moved = Position(new, asset_id, position.exchange, position.qty, position.avg_entry_price, position.marginable)
        self.positions[new] = moved
        details = {**action.details(moment), "old_symbol": old, "new_symbol": new, "old_cusip": cusip,
                   "new_cusip": cusip, "position_qty": fmt(position.qty)}
        for symbol, qty in ((old, -position.qty), (new, position.qty)):
            self.record(self._non_trade(moment, "NC", "SNC", symbol, Decimal(0), action, details, cusip, qty=qty,
                                        price=position.avg_entry_price, description=f"Name change {old} to {new}"))
        return moved

    def _non_trade(self, moment: datetime, kind: str, subtype: str, symbol: str, net: Decimal,
                   action: CorporateAction, details: dict[str, Any], cusip: str | None, **fields: Any) -> dict[str, Any]:
        """A non-trade activity as Alpaca's REST API returns it (``activity_sub_type``, ``group_id``, ``cusip`` at
        the top), with the type's own fields under ``details`` as its activity events carry them."""
        activity = {
            "id": self._next_id(moment),
            "activity_type": kind,
            "activity_sub_type": subtype,
            "date": moment.date().isoformat(),
            "created_at": iso(moment),
            "currency": "USD",
            "net_amount": fmt(net),
            "symbol": symbol,
            "cusip": cusip,
            "status": "executed",
            "group_id": action.group_id,
        }
        activity.update({k: fmt(v) if isinstance(v, Decimal) else v for k, v in fields.items()})
        activity["details"] = {k: v for k, v in details.items() if v is not None}
        return {k: v for k, v in activity.items() if v is not None}
