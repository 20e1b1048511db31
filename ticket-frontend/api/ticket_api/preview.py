"""The estimate before submission: ask the risk service (the authority) and shape its answer for the ticket.

The request is a ``tradebus_contracts.rpc.PreviewRequest``, the reply a ``PreviewReply``: the very checks a
real decision runs, with the cost, the buying power and the buying power left after the order, nothing signed or
booked. This module computes none of those; it only splits the reasons for the form: a reason about a field
the person can fix is a per-field error; a condition of the market or the account (no field, or not enough
buying power) is a warning. Either way the order is not approvable as it stands. Risk's advice
(``PreviewReply.warnings``: a stop that triggers at once) is a warning that never blocks. No answer, or one that is not a
JSON object, is a 503 (risk is down or broken); a reply saying the preview itself failed (the responder's
``{"error": ...}``) or one outside the contract becomes the warning ``PREVIEW_FAILED`` on a non-approvable preview.
"""

from __future__ import annotations

import json
from uuid import UUID

from pydantic import ValidationError

from tradebus_contracts import OrderFields
from tradebus_contracts.rpc import PreviewReply, PreviewRequest

from .models import FieldError, PreviewOut, PreviewWarning, dec

WARNING_CODES = frozenset({"INSUFFICIENT_BUYING_POWER"})


class RiskUnavailable(Exception):
    """The risk service did not answer (down, or not yet started) or answered nonsense."""


def preview_request(order: OrderFields, order_id: UUID | None) -> bytes:
    return PreviewRequest(**order.model_dump(), order_id=order_id).model_dump_json().encode()


def shape_preview(raw: bytes) -> PreviewOut:
    """The ticket's preview from the risk service's reply. Raises `RiskUnavailable` for an unusable reply."""
    try:
        reply = PreviewReply.model_validate_json(raw)
    except ValidationError as exc:
        return _not_assessed(_failure(raw, exc))
    if not reply.ok:
        errors = [FieldError(field=e.field, code="INVALID_FIELD", message=e.message) for e in reply.errors]
        return PreviewOut(estimated_cost=None, price_basis=None, buying_power=None, buying_power_after=None,
                          warnings=[], errors=errors, approvable=False, trading_state=None)
    blocking: list[PreviewWarning] = []
    errors: list[FieldError] = []
    for r in reply.reasons:
        if r.field is None or r.code in WARNING_CODES:
            blocking.append(PreviewWarning(code=r.code, message=r.message))
        else:
            errors.append(FieldError(field=r.field, code=r.code, message=r.message))
    advice = [PreviewWarning(code=w.code, message=w.message) for w in reply.warnings]
    return PreviewOut(
        estimated_cost=dec(reply.estimated_cost),
        price_basis=reply.price_basis,
        buying_power=dec(reply.buying_power),
        buying_power_after=dec(reply.buying_power_after),
        warnings=[*blocking, *advice],
        errors=errors,
        approvable=reply.approved and not errors and not blocking,
        trading_state=reply.trading_state,
    )


def _failure(raw: bytes, exc: ValidationError) -> str:
    """Why risk gave no verdict, from a reply that is not a `PreviewReply`; raises `RiskUnavailable` when it is not
    even a JSON object."""
    try:
        body = json.loads(raw)
    except ValueError:
        raise RiskUnavailable("the risk service answered with something that is not JSON") from None
    if not isinstance(body, dict):
        raise RiskUnavailable("the risk service answered an unexpected shape")
    if "ok" not in body:  # the responder failed on this order: {"error": ...}
        return str(body.get("error", "no verdict"))[:300]
    first = exc.errors()[0]
    return f"its answer is outside the contract: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}"[:300]


def _not_assessed(error: str) -> PreviewOut:
    warning = PreviewWarning(code="PREVIEW_FAILED", message=f"the risk service could not assess this order ({error})")
    return PreviewOut(estimated_cost=None, price_basis=None, buying_power=None, buying_power_after=None,
                      warnings=[warning], errors=[], approvable=False, trading_state=None)
