"""The gateway's records as plain values: one order (a row of ``orders``) and the states it can be in; one broker
call (a row of ``broker_calls``).

The row's ``state`` is about submission (did the broker get it?); ``broker_status`` is the broker's own word on the
order once it has it (``OrderStatus``, moved through the transition table in lifecycle.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID

if TYPE_CHECKING:
    from .broker import BrokerError


class SubmitState(StrEnum):
    PENDING = "pending"  # written before the broker is called: the broker may or may not have it
    SUBMITTED = "submitted"  # the broker has it (broker_order_id known)
    FAILED = "failed"  # the broker refused it, or it can no longer be submitted
    CANCELED_BEFORE_SUBMIT = "canceled_before_submit"  # a cancel came first: it never will be submitted


@dataclass(frozen=True, slots=True)
class OrderRow:
    order_id: UUID
    client_order_id: str
    approval_id: UUID | None
    symbol: str
    order_fields: dict[str, object] | None
    state: SubmitState
    broker_order_id: str | None
    broker_status: str | None
    filled_qty: Decimal  # cumulative, as counted in fills
    filled_notional: Decimal  # sum of qty * price of the fills counted
    cancel_requested_at: datetime | None
    created_at: datetime
    expires_at: datetime | None = None  # the approval's expiry: never POSTed after it

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> OrderRow:
        fields = row["order_fields"]
        return cls(
            order_id=row["order_id"],
            client_order_id=row["client_order_id"],
            approval_id=row["approval_id"],
            symbol=row["symbol"],
            order_fields=json.loads(fields) if isinstance(fields, str) else fields,
            state=SubmitState(row["state"]),
            broker_order_id=row["broker_order_id"],
            broker_status=row["broker_status"],
            filled_qty=row["filled_qty"],
            filled_notional=row["filled_notional"],
            cancel_requested_at=row["cancel_requested_at"],
            created_at=row["created_at"],
            expires_at=row.get("expires_at"),
        )


@dataclass(frozen=True, slots=True)
class BrokerCall:
    """One line of the ``broker_calls`` audit: which call we made for an order, and what came back."""

    call: str  # submit | lookup | cancel
    http_status: int | None
    code: int | None = None
    message: str | None = None

    @classmethod
    def failed(cls, call: str, error: BrokerError) -> BrokerCall:
        return cls(call, error.status, error.code, error.message)
