"""Shared test data for the contracts tests: one valid, fully populated instance of every event type, and a signing
key with the trusted-keys map that holds it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tradebus_contracts import events as ev
from tradebus_contracts.envelope import Envelope
from tradebus_contracts.signing import generate_private_key, key_id_for

ORDER_ID = UUID("0b9c5a8e-4f6d-4a57-9b1e-2d3c4b5a6f70")
T0 = datetime(2026, 11, 24, 14, 30, 0, 123456, tzinfo=UTC)

ORDER = {
    "symbol": "BRK.B",
    "side": "buy",
    "type": "limit",
    "time_in_force": "day",
    "qty": Decimal("1.50"),
    "limit_price": Decimal("410.10"),
    "extended_hours": False,
}
ABOUT_ORDER = {"order_id": ORDER_ID, "correlation_id": str(ORDER_ID), "producer": "test", "occurred_at": T0}
NOT_ABOUT_ORDER = {"correlation_id": "sync-run-1", "producer": "test", "occurred_at": T0}
FILL_IDS = {"client_order_id": "tb-" + ORDER_ID.hex, "broker_order_id": "b7f0c1de-0000-4000-8000-000000000001"}


def _samples() -> dict[str, Envelope]:
    return {
        "OrderRequested": ev.OrderRequested(**ABOUT_ORDER, **ORDER),
        "RiskApproved": ev.RiskApproved(
            **ABOUT_ORDER, **ORDER, issued_at=T0, expires_at=T0.replace(second=30), key_id="0123456789abcdef",
            signature="c2ln", causation_id=UUID(int=7),
        ),
        "RiskRejected": ev.RiskRejected(
            **ABOUT_ORDER, **{**ORDER, "qty": Decimal("-1")}, message="qty must be positive",
            reasons=[ev.RejectionReason(code="QTY_NOT_POSITIVE", message="qty must be > 0", field="qty")],
        ),
        "OrderSubmitted": ev.OrderSubmitted(
            **ABOUT_ORDER, **ORDER, **FILL_IDS, approval_id=UUID(int=9), status="accepted", submitted_at=T0
        ),
        "SubmissionFailed": ev.SubmissionFailed(
            **ABOUT_ORDER, client_order_id=FILL_IDS["client_order_id"], symbol="BRK.B", http_status=403,
            code=40310000, message="insufficient buying power",
        ),
        "OrderStatusChanged": ev.OrderStatusChanged(
            **ABOUT_ORDER, **FILL_IDS, symbol="BRK.B", previous_status="new", status="partially_filled",
            filled_qty=Decimal("0.5"), filled_avg_price=Decimal("410.05"), source="stream", broker_timestamp=T0,
        ),
        "CancelRequested": ev.CancelRequested(
            **ABOUT_ORDER, symbol="BRK.B", requested_by="tradectl", reason="fat finger"
        ),
        "CancelResult": ev.CancelResult(
            **ABOUT_ORDER, symbol="BRK.B", outcome="too_late_filled", filled_qty=Decimal("1.50"),
            broker_order_id=FILL_IDS["broker_order_id"], message="order filled before cancel",
        ),
        "FillReported": ev.FillReported(
            **ABOUT_ORDER, **FILL_IDS, symbol="BRK.B", side="buy", execution_id="exec-1", qty=Decimal("0.5"),
            price=Decimal("410.05"), cum_qty=Decimal("0.5"), order_status="partially_filled",
            position_qty=Decimal("10.5"), executed_at=T0, source="webhook",
        ),
        "PositionSnapshot": ev.PositionSnapshot(
            **NOT_ABOUT_ORDER, symbol="AAPL", qty=Decimal("10"), avg_entry_price=Decimal("190.25"),
            cost_basis=Decimal("1902.50"), source="broker", as_of=T0,
        ),
        "PositionDrift": ev.PositionDrift(
            **NOT_ABOUT_ORDER, symbol="AAPL", severity="critical", ledger_qty=Decimal("10"), broker_qty=Decimal("9"),
            qty_diff=Decimal("-1"), ledger_cost_basis=Decimal("1902.50"), broker_cost_basis=Decimal("1712.25"),
            detected_at=T0,
        ),
        "PositionReconciled": ev.PositionReconciled(
            **NOT_ABOUT_ORDER, symbol="AAPL", qty=Decimal("9"), cost_basis=Decimal("1712.25"),
            resolution="adopted_broker_qty", drift_event_id=UUID(int=3),
        ),
        "CorporateActionApplied": ev.CorporateActionApplied(
            **NOT_ABOUT_ORDER, symbol="NVDA", action="split", ratio=Decimal("10"), ex_date=date(2026, 6, 10),
            qty_before=Decimal("3"), qty_after=Decimal("30"), cost_basis_before=Decimal("3600.00"),
            cost_basis_after=Decimal("3600.00"),
        ),
        "TradingStateChanged": ev.TradingStateChanged(
            **NOT_ABOUT_ORDER, state="halted", reason="market chaos", changed_by="ops@desk"
        ),
        "DeadLetter": ev.DeadLetter.from_raw(
            service="risk-service", original_subject="orders.requested.AAPL", reason="invalid event: ...",
            payload=b"\xff\xfenot json", headers={"Nats-Msg-Id": "abc"},
        ),
        "BrokerTradeUpdate": ev.BrokerTradeUpdate(
            **NOT_ABOUT_ORDER, symbol="BRK.B", delivery_id="msg_2u5", update="partial_fill",
            client_order_id="tb-" + "0" * 32, broker_order_id="b-1", execution_id="x-1", received_at=T0,
            trade_update={"event": "partial_fill", "execution_id": "x-1", "qty": "2", "price": "410.10",
                          "order": {"id": "b-1", "symbol": "BRK.B", "filled_qty": "2"}},
        ),
        "BrokerActivity": ev.BrokerActivity(
            **NOT_ABOUT_ORDER, activity_id="20260227000000000::8a1c", activity_type="SPLIT", activity_subtype="FSPLIT",
            symbol="NVDA", group_id="g-1", source="rest",
            activity={"id": "20260227000000000::8a1c", "activity_type": "SPLIT", "qty": "30", "price": "120"},
        ),
        "AuditCheckpoint": ev.AuditCheckpoint(
            **NOT_ABOUT_ORDER, seq=1000, head_hash="ab" * 32, signed_at=T0, key_id="0123456789abcdef",
            signature="c2lnbmF0dXJl",
        ),
    }


@pytest.fixture
def sample_event() -> Callable[[str], Envelope]:
    """``sample_event("FillReported")`` -> a valid, fully populated FillReported."""
    samples = _samples()
    return samples.__getitem__


@pytest.fixture
def signing_key() -> Ed25519PrivateKey:
    """A fresh Ed25519 key: risk's approval key in the signing tests, the audit recorder's in the audit tests."""
    return generate_private_key()


@pytest.fixture
def trusted(signing_key: Ed25519PrivateKey) -> dict[str, Ed25519PublicKey]:
    """The trusted keys a verifier holds: only ``signing_key``'s public key, under its key id."""
    return {key_id_for(signing_key.public_key()): signing_key.public_key()}
