"""The request responders of risk-service (core NATS, outside every stream): the ticket's preview
(``rpc.risk-service.preview``) and the operator's view of the limits (``rpc.risk-service.limits``).

A preview runs the same checks as a decision, on the same context, and nothing is signed, stored or booked. Its
answer is a ``tradebus_contracts.rpc.PreviewReply``, with the buying power left once the order is accepted
(``exposure.buying_power_needed``; a notional order is counted in shares at the quote): the ticket shows these
numbers and computes none of them. ``preview_reply`` is pure; the responder only parses and reads the clock.

A preview also gives advice that is no reason to refuse (``reasons.ADVICE_CODES``: a stop that triggers at once),
in ``PreviewReply.warnings``; ``approved`` stays as the checks say.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from pydantic import TypeAdapter, ValidationError

from tradebus_contracts import OrderFields
from tradebus_contracts.decimal_types import Money
from tradebus_contracts.envelope import utc_now
from tradebus_contracts.rpc import FieldProblem, PreviewReply, PreviewRequest

from .checks import evaluate
from .collars import stop_advice
from .decider import Decider
from .limit_checks import buying_power_left, buying_power_used
from .limits import Limits
from .model import RiskContext

__all__ = ["RiskResponders", "preview_reply", "malformed"]

_MONEY = TypeAdapter(Money)


class RiskResponders:
    def __init__(self, decider: Decider, clock: Callable[[], datetime] = utc_now) -> None:
        self._decider = decider
        self._clock = clock

    async def preview(self, raw: bytes) -> PreviewReply:
        """What risk would decide about the order right now."""
        try:
            order = PreviewRequest.model_validate_json(raw).order_fields()
        except ValidationError as exc:
            return malformed(exc)
        return preview_reply(order, self._decider.context(order.symbol, self._clock()), self._decider.limits)

    async def limits_report(self, _: bytes) -> dict[str, object]:
        """The active limits, the trading state and what is committed today (``tradectl risk limits``)."""
        decider = self._decider
        return {
            "limits": decider.limits.describe(),
            "trading_state": decider.trading_state.state.value,
            "approval_ttl_s": decider.signer.ttl.total_seconds(),
            "signing_key_id": decider.signer.key_id,
            "open_orders": decider.book.open_total,
            "daily_notional_used": str(decider.book.daily_total),
        }


def preview_reply(order: OrderFields, ctx: RiskContext, limits: Limits) -> PreviewReply:
    """The verdict of every check on ``order`` in ``ctx``, and the buying power before and after it (what is left
    once open buys the broker has not counted yet are paid for)."""
    verdict = evaluate(order, ctx, limits)
    effective = limits.for_symbol(order.symbol)
    buying_power = buying_power_left(ctx)
    used = buying_power_used(order, ctx, effective)
    after = None if buying_power is None or used is None else buying_power - used
    return PreviewReply(
        ok=True,
        approved=verdict.approved,
        reasons=list(verdict.reasons),
        warnings=stop_advice(order, ctx, effective),
        estimated_cost=_money(verdict.estimated_cost),
        price_basis=verdict.price_basis,
        buying_power=_money(buying_power),
        buying_power_after=_money(after),
        trading_state=ctx.trading_state,
    )


def malformed(exc: ValidationError) -> PreviewReply:
    """The answer to a request that is not a well-formed order: which field is wrong, and why."""
    return PreviewReply(ok=False, errors=[
        FieldProblem(field=".".join(str(part) for part in e["loc"]) or None, message=e["msg"]) for e in exc.errors()])


def _money(value: Decimal | None) -> Decimal | None:
    """An amount as the reply can carry it. A product of two huge (contract-valid) inputs can have more digits
    than ``Money`` allows: it is answered as unknown, and the reasons that reject such an order still come through."""
    if value is None:
        return None
    try:
        return _MONEY.validate_python(value)
    except ValidationError:
        return None
