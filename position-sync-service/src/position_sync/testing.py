"""Values for the ledger's tests (and benchmarks): fills on New York trading days, Alpaca-shaped activity legs."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from itertools import count
from typing import Any

from position_sync.activities import ActivityLeg
from position_sync.sequencer import Fill
from tradebus_contracts.orders import OrderSide
from tradebus_contracts.trading_day import NEW_YORK

_ids = count(1)


def D(value: str | int) -> Decimal:  # noqa: N802 - reads like the literal it builds
    return Decimal(str(value))


def on(day: int) -> date:
    """Day ``day`` counted from 1 March 2026 (2 March is a Monday); past 31 it runs on into April."""
    return date(2026, 3, 1) + timedelta(days=day - 1)


def at(day: int, hour: int = 10, minute: int = 0) -> datetime:
    """A moment in New York on ``on(day)``."""
    return datetime.combine(on(day), time(hour, minute), NEW_YORK)


def fill(side: str, qty: str | int, price: str | int, day: int = 2, *, symbol: str = "AAPL",
         execution_id: str | None = None, order_id: str | None = None, cum_qty: str | int | None = None,
         final: bool = True, hour: int = 10, minute: int = 0) -> Fill:
    n = next(_ids)
    return Fill(execution_id or f"ex-{n}", order_id or f"order-{n}", symbol, OrderSide(side), D(qty), D(price),
                D(cum_qty if cum_qty is not None else qty), at(day, hour, minute), final)


def buy(qty: str | int, price: str | int, day: int = 2, **kw: Any) -> Fill:
    return fill("buy", qty, price, day, **kw)


def sell(qty: str | int, price: str | int, day: int = 2, **kw: Any) -> Fill:
    return fill("sell", qty, price, day, **kw)


def leg(activity_type: str, subtype: str | None, qty: str | None, price: str | None = None, *,
        event_id: str | None = None, group_id: str | None = "grp-1", net_amount: str = "0",
        status: str = "executed", **details: str) -> dict[str, Any]:
    """An Activity SSE (v2) shaped leg: common fields at the top, the type's own fields under ``details``."""
    event_id = event_id or f"01J{next(_ids):020d}"
    body: dict[str, Any] = {"event_id": event_id, "ref_id": f"ref-{next(_ids)}",
                            "activity_type": activity_type, "activity_subtype": subtype, "qty": qty, "price": price,
                            "net_amount": net_amount, "status": status, "settle_date": "2026-03-03",
                            "details": {"ca_id": f"ca-{group_id or event_id}", **details}}
    if group_id is not None:
        body["details"]["group_id"] = group_id
    return body


EX = "2026-03-05"


def legs(*raws) -> list[ActivityLeg]:
    return [ActivityLeg.from_dict(raw) for raw in raws]


def split(subtype: str, removed: str, old_price: str, allocated: str, new_price: str, old_rate: str, new_rate: str,
          symbol: str = "AAPL", group: str = "grp-split") -> list[ActivityLeg]:
    rates = {"symbol": symbol, "old_rate": old_rate, "new_rate": new_rate, "ex_date": EX}
    return legs(leg("SPLIT", subtype, f"-{removed}", old_price, group_id=group, **rates),
                leg("SPLIT", subtype, allocated, new_price, group_id=group, **rates))
