"""Plain values the unit tests start from: a signed approval, our order row, the broker's word on an order; and the
runtime's verdicts on one failure, delivery after delivery."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

from order_gateway.broker import BrokerOrder
from order_gateway.model import OrderRow, SubmitState
from tradebus_contracts import OrderRequested, RiskApproved, client_order_id_for, sign_approval
from tradebus_contracts.signing import generate_private_key, public_key_to_b64, trusted_keys
from tradebus_runtime.bus import Ack, Bury, ConsumerSpec, Retry, settle

from .fakes import START, alpaca_order

KEY = generate_private_key()
TRUSTED = trusted_keys([public_key_to_b64(KEY.public_key())])


def approval(*, order_id: UUID | None = None, issued_at: datetime = START, ttl_s: float = 30,
             **fields: object) -> RiskApproved:
    order_id = order_id or uuid4()
    base: dict[str, object] = {"producer": "test", "order_id": order_id, "correlation_id": str(order_id),
                               "symbol": "AAPL", "side": "buy", "type": "market", "time_in_force": "day",
                               "qty": Decimal(1)}
    request = OrderRequested(**{**base, **fields})
    return sign_approval(request, private_key=KEY, issued_at=issued_at, ttl=timedelta(seconds=ttl_s), producer="risk")


def order_row(state: SubmitState = SubmitState.SUBMITTED, *, approval_id: UUID | None = None,
              broker_status: str | None = "new", filled_qty: str = "0", filled_notional: str = "0",
              broker_order_id: str | None = "b-1", order_id: UUID | None = None) -> OrderRow:
    order_id = order_id or uuid4()
    return OrderRow(order_id=order_id, client_order_id=client_order_id_for(order_id), approval_id=approval_id,
                    symbol="AAPL", order_fields=None, state=state, broker_order_id=broker_order_id,
                    broker_status=broker_status, filled_qty=Decimal(filled_qty),
                    filled_notional=Decimal(filled_notional), cancel_requested_at=None, created_at=START)


def row_of(approved: RiskApproved, state: SubmitState, **fields: object) -> OrderRow:
    """The row this approval's order left in ``state``."""
    return order_row(state, approval_id=approved.approval_id, order_id=approved.order_id, **fields)  # type: ignore[arg-type]


def broker_order(row: OrderRow, status: str, *, filled_qty: str = "0", filled_avg_price: str | None = None,
                 at: datetime = START) -> BrokerOrder:
    """The broker's word on ``row``'s order, parsed as the gateway parses Alpaca's JSON."""
    return BrokerOrder.of(alpaca_order(row.client_order_id, broker_order_id=row.broker_order_id or "b-1",
                                       status=status, filled_qty=filled_qty, filled_avg_price=filled_avg_price,
                                       qty="5", at=at))


def after_report(row: OrderRow, status: str | None, cum_qty: Decimal, notional: Decimal) -> OrderRow:
    """The row as the writer leaves it after a report (what the next report starts from)."""
    return replace(row, broker_status=status, filled_qty=cum_qty, filled_notional=notional)


def verdicts_on(failure: Exception, spec: ConsumerSpec) -> list[Ack | Retry | Bury]:
    """How the runtime settles ``failure`` at each delivery, as the consumer does, far past what ``spec``'s
    ``max_deliver`` lets a failing handler use."""
    tally, verdicts = None, []
    for delivered in range(1, spec.max_deliver * 3 + 1):
        tally, verdict = settle(failure, delivered, tally, spec)
        verdicts.append(verdict)
    return verdicts
