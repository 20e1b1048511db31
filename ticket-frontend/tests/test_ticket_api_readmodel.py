"""An order's state survives its row in ``ticket_api.orders`` (no database: the row as asyncpg would give it)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

import pytest

from ticket_api.readmodel import _STATE_COLUMNS, _row_values, _state
from ticket_api.reducer import OrderState
from tradebus_contracts import CancelOutcome, OrderFields
from tradebus_contracts.orders import OrderProgress

T0 = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)
FIELDS = OrderFields(symbol="BRK.B", side="sell", type="stop_limit", time_in_force="gtc", qty=Decimal("2.50"),
                     limit_price=Decimal("412.10"), stop_price=Decimal("412.00"))


@pytest.mark.parametrize("fields", [FIELDS, None], ids=["with-fields", "fill-first"])
def test_row_when_written_and_read_back_then_the_same_state(fields):
    state = OrderState(order_id=uuid4(), symbol="BRK.B", status=OrderProgress.CANCELED, created_at=T0, updated_at=T0,
                       fields=fields, filled_qty=Decimal("1"), filled_avg_price=Decimal("412.05"),
                       reject_reasons=({"code": "X", "message": "y", "field": None},),
                       cancel_outcome=CancelOutcome.TOO_LATE_PARTIALLY_FILLED)

    row = dict(zip(_STATE_COLUMNS, _row_values(state), strict=True))

    assert (row["symbol"], row["side"], row["qty"]) == (("BRK.B", "sell", Decimal("2.50")) if fields else
                                                        ("BRK.B", None, None))
    assert _state(row) == state
