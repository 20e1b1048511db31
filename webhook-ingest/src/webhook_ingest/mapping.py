"""From a verified webhook body to what goes on the bus. Pure: no I/O, no clock (the caller gives the times).

* `parse_body`: the verified text as JSON (numbers with a fraction as Decimals, never floats; NaN/Infinity refused);
  text that is not JSON is a `Refused` 400: the sender has a bug, and nothing is kept.
* `to_trade_update`: an Alpaca trade_update object (the ``data`` of a trade_updates stream message) -> a
  `BrokerTradeUpdate`, or `Unmappable` with the reason (unknown event, a missing or ill-typed field). Only what the
  gateway needs to apply the update is checked here; the gateway, the one authority for fills, reads the rest.
* `dead_letter`: how an unmappable body is kept (``dlq.webhook-ingest``, the original bytes and the reason).

Ids are derived from the ``webhook-id``, so every retry of one delivery is the same event on the bus
(``Nats-Msg-Id`` = ``event_id``: JetStream drops a re-publish, e.g. after a crash between the PubAck and the
commit of the id).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID, uuid5

from pydantic import ValidationError

from tradebus_contracts import DeadLetter, OrderSide, OrderStatus, order_id_from_client_order_id
from tradebus_contracts.events import EXECUTION_EVENTS, BrokerTradeUpdate
from tradebus_contracts.orders import SYMBOL_PATTERN
from tradebus_contracts.services import Service

from .verify import Refused, Verified

PRODUCER = Service.WEBHOOK_INGEST.value
ORIGIN = "http:POST /webhooks/fills"  # the dead letter's "original subject": where the body came in
_NAMESPACE = UUID("6f1d4e8a-9c53-4b0e-a0c1-5e2b7d3f9a14")  # fixed forever: ids derived from it must not change

TRADE_UPDATE_EVENTS = frozenset({
    "new", "fill", "partial_fill", "canceled", "expired", "done_for_day", "replaced",  # Alpaca's common events
    "accepted", "rejected", "pending_new", "stopped", "pending_cancel", "pending_replace", "calculated",
    "suspended", "order_replace_rejected", "order_cancel_rejected", "held",  # and the rarer ones
})
_SYMBOL = re.compile(SYMBOL_PATTERN)
_STATUSES = frozenset(OrderStatus)
_SIDES = frozenset(OrderSide)


@dataclass(frozen=True, slots=True)
class Unmappable:
    """A verified body that cannot become a BrokerTradeUpdate: kept as a dead letter, answered 202."""

    reason: str


def event_id_for(webhook_id: str) -> UUID:
    return uuid5(_NAMESPACE, f"trade-update:{webhook_id}")


def dead_letter_id_for(webhook_id: str) -> UUID:
    return uuid5(_NAMESPACE, f"dead-letter:{webhook_id}")


def parse_body(text: str) -> Any:
    try:
        return json.loads(text, parse_float=Decimal, parse_constant=_no_constant)
    except ValueError:  # JSONDecodeError, and our refusal of NaN/Infinity
        raise Refused(400, "BODY_NOT_JSON", "the body is not JSON") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def to_trade_update(body: Any, webhook_id: str, received_at: datetime) -> BrokerTradeUpdate | Unmappable:
    reason = _unmappable_because(body)
    if reason is not None:
        return Unmappable(reason)
    order = body["order"]
    order_id = order_id_from_client_order_id(order["client_order_id"])
    try:
        return BrokerTradeUpdate(
            event_id=event_id_for(webhook_id), producer=PRODUCER,
            correlation_id=str(order_id) if order_id is not None else order["id"],
            symbol=order["symbol"], delivery_id=webhook_id, update=body["event"],
            client_order_id=order["client_order_id"], broker_order_id=order["id"],
            execution_id=body.get("execution_id") or None, received_at=received_at, trade_update=body,
        )
    except ValidationError as exc:
        return Unmappable(f"not a valid BrokerTradeUpdate: {exc.errors(include_url=False)[0]['msg']}")


def _unmappable_because(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    event = body.get("event")
    if not isinstance(event, str) or not event:
        return "event is missing"
    if event not in TRADE_UPDATE_EVENTS:
        return f"unknown trade update event {event[:40]!r}"
    order = body.get("order")
    if not isinstance(order, dict):
        return "order is missing"
    for name in ("id", "client_order_id"):
        if not isinstance(order.get(name), str) or not order[name]:
            return f"order.{name} is missing"
    if not isinstance(order.get("symbol"), str) or not _SYMBOL.fullmatch(order["symbol"]):
        return "order.symbol is missing or not a symbol"
    if order.get("status") not in _STATUSES:
        return "order.status is missing or not an Alpaca order status"
    if order.get("side") not in _SIDES:
        return "order.side is missing or not buy/sell"
    if order.get("filled_qty") is not None and not _is_decimal(order["filled_qty"], allow_zero=True):
        return "order.filled_qty is not a decimal"
    if event in EXECUTION_EVENTS:
        if not isinstance(body.get("execution_id"), str) or not body["execution_id"]:
            return f"a {event} without execution_id"
        for name in ("qty", "price"):
            if not _is_decimal(body.get(name)):
                return f"a {event} without a positive {name}"
    return None


def _is_decimal(value: Any, *, allow_zero: bool = False) -> bool:
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        return False
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return False
    return number.is_finite() and (number > 0 or (allow_zero and number == 0))


def dead_letter(verified: Verified, body: bytes, reason: str) -> DeadLetter:
    letter = DeadLetter.from_raw(
        service=PRODUCER, original_subject=ORIGIN, reason=reason, payload=body,
        headers={"webhook-id": verified.webhook_id, "webhook-timestamp": str(verified.timestamp)},
        correlation_id=verified.webhook_id,
    )
    return letter.model_copy(update={"event_id": dead_letter_id_for(verified.webhook_id)})
