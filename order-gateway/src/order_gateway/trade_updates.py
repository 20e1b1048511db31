"""What one Alpaca trade update says, read one way for every door it comes in by. Pure.

A trade update (``{"event", "timestamp", "order", "execution_id", "qty", "price", "position_qty"}``) reaches the
gateway on its own trade_updates stream and, verified by webhook-ingest, as a ``BrokerTradeUpdate`` on the BROKER
stream. Both are read here into the broker's order (as the rest of the gateway reads it) and, for a fill or partial
fill, the one execution it reports; ``followers.follow`` then applies it through ``recording.record_report``, so
whichever door an execution comes by first, it is counted once (by execution id, then by cumulative quantity).

`read_webhook_update` also refuses what cannot be applied, with the reason (`UnusableUpdate`): the caller keeps such
an update as a dead letter rather than dropping it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from tradebus_contracts.events import EXECUTION_EVENTS, BrokerTradeUpdate, FillSource

from .broker import BrokerOrder, dec, parse_time
from .fills import ExecutionReport


@dataclass(frozen=True, slots=True)
class TradeUpdate:
    event: str  # Alpaca's event name: new, fill, partial_fill, canceled, ...
    order: dict[str, Any]  # the broker's order object as it stands after the update
    execution: ExecutionReport | None  # the one execution of a fill or partial fill
    position_qty: Decimal | None  # the position after that execution, when the broker says


class UnusableUpdate(ValueError):
    """A trade update the gateway cannot apply; the message is the reason kept with its dead letter."""


def read_trade_update(data: Mapping[str, Any], source: FillSource) -> TradeUpdate:
    """One trade update's ``data``; raises KeyError/ValueError on numbers or times that do not parse."""
    order = data.get("order") or {}
    event = str(data.get("event", ""))
    execution = None
    if event in EXECUTION_EVENTS:
        execution = ExecutionReport(
            source=source, cum_qty=dec(order.get("filled_qty")) or Decimal(0),
            execution_id=str(data["execution_id"]) if data.get("execution_id") else None,
            qty=dec(data.get("qty")), price=dec(data.get("price")), timestamp=parse_time(data.get("timestamp")),
        )
    return TradeUpdate(event, dict(order), execution, dec(data.get("position_qty")))


def read_webhook_update(event: BrokerTradeUpdate) -> TradeUpdate:
    """The trade update a webhook brought, checked for what applying it needs; `UnusableUpdate` otherwise."""
    try:
        update = read_trade_update(event.trade_update, "webhook")
        order = BrokerOrder.of(update.order)
    except (KeyError, ValueError, TypeError, InvalidOperation) as exc:
        raise UnusableUpdate(f"unreadable trade update: {type(exc).__name__}: {str(exc)[:200]}") from None
    if (order.client_order_id, order.broker_order_id) != (event.client_order_id, event.broker_order_id):
        raise UnusableUpdate("the trade update's order ids differ from the event's")
    if update.event != event.update:
        raise UnusableUpdate(f"the trade update's event {update.event!r} differs from the event's {event.update!r}")
    if update.execution is not None and not (update.execution.execution_id and update.execution.qty
                                             and update.execution.price):
        raise UnusableUpdate(f"a {update.event} without execution_id, qty or price")
    return update
