"""The estimate before submission: ask the risk service (the authority) and shape its answer for the ticket.

The risk service runs the very checks a real decision runs (``rpc.risk-service.preview``), nothing signed or
booked. Its reasons are split for the form: a reason about a field the person can fix is a per-field error;
a condition of the market or the account (no field, or not enough buying power) is a warning. Either way
the order is not approvable as it stands. No answer is a 503 (risk is down); an answer saying the preview
itself failed becomes the warning ``PREVIEW_FAILED`` on a non-approvable preview.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from tradebus_contracts import OrderFields, OrderSide

from .models import FieldError, PreviewOut, PreviewWarning, dec

WARNING_CODES = frozenset({"INSUFFICIENT_BUYING_POWER"})


class RiskUnavailable(Exception):
    """The risk service did not answer (down, or not yet started) or answered nonsense."""


def preview_request(order: OrderFields, order_id: str | None) -> bytes:
    body = order.model_dump(mode="json")
    if order_id is not None:
        body["order_id"] = order_id
    return json.dumps(body).encode()


def shape_preview(raw: bytes, order: OrderFields, position_qty: Decimal) -> PreviewOut:
    """The ticket's preview from the risk service's reply. Raises `RiskUnavailable` for an unusable reply."""
    try:
        reply = json.loads(raw)
    except ValueError:
        raise RiskUnavailable("the risk service answered with something that is not JSON") from None
    if not isinstance(reply, dict):
        raise RiskUnavailable("the risk service answered an unexpected shape")
    if "ok" not in reply:  # the responder failed on this order ({"error": ...}): say so, the order is not approvable
        return _not_assessed(str(reply.get("error", "no verdict"))[:300])
    if not reply["ok"]:
        errors = [FieldError(field=e.get("field"), code="INVALID_FIELD", message=str(e.get("message")))
                  for e in reply.get("errors", [])]
        return PreviewOut(estimated_cost=None, price_basis=None, buying_power=None, buying_power_after=None,
                          warnings=[], errors=errors, approvable=False, trading_state=None)
    warnings: list[PreviewWarning] = []
    errors: list[FieldError] = []
    for r in reply.get("reasons", []):
        if r.get("field") is None or r.get("code") in WARNING_CODES:
            warnings.append(PreviewWarning(code=r["code"], message=r["message"]))
        else:
            errors.append(FieldError(field=r["field"], code=r["code"], message=r["message"]))
    cost = _decimal(reply.get("estimated_cost"))
    buying_power = _decimal(reply.get("buying_power"))
    return PreviewOut(
        estimated_cost=dec(cost),
        price_basis=reply.get("price_basis"),
        buying_power=dec(buying_power),
        buying_power_after=dec(buying_power_after(order, cost, buying_power, position_qty)),
        warnings=warnings,
        errors=errors,
        approvable=bool(reply.get("approved")) and not errors and not warnings,
        trading_state=reply.get("trading_state"),
    )


def _not_assessed(error: str) -> PreviewOut:
    warning = PreviewWarning(code="PREVIEW_FAILED", message=f"the risk service could not assess this order ({error})")
    return PreviewOut(estimated_cost=None, price_basis=None, buying_power=None, buying_power_after=None,
                      warnings=[warning], errors=[], approvable=False, trading_state=None)


def buying_power_after(order: OrderFields, cost: Decimal | None, buying_power: Decimal | None,
                       position_qty: Decimal) -> Decimal | None:
    """Buying power once the order is accepted: a buy uses its cost; a sell uses only the part that opens a
    short (selling what is held frees buying power only when it fills, so it is not counted in advance)."""
    if cost is None or buying_power is None:
        return None
    if order.side is OrderSide.BUY:
        return buying_power - cost
    if order.qty is None or order.qty <= 0:
        return buying_power - cost if position_qty <= 0 else buying_power
    opening = order.qty - max(position_qty, Decimal(0))
    return buying_power - cost * opening / order.qty if opening > 0 else buying_power


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        return None
    return result if result.is_finite() else None
