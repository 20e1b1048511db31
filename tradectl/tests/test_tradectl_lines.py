"""How `tradectl tail` and `replay` print a position alert: a sentence a person can act on, not bare key=values."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tradebus_contracts import PositionDrift, PositionReconciled, encode_event, subject_for
from tradectl.lines import TailFilter, render

AT = datetime(2026, 11, 24, 14, 30, 5, 123000, tzinfo=UTC)
DRIFT_ID = uuid.UUID("00000000-0000-0000-0000-00000000d1f7")


def drift(policy: str, **fields) -> PositionDrift:
    values = dict(event_id=DRIFT_ID, producer="position-sync-service", correlation_id=str(DRIFT_ID), occurred_at=AT,
                  symbol="KO", severity="critical", ledger_qty=Decimal(0), broker_qty=Decimal(7),
                  qty_diff=Decimal(7), ledger_cost_basis=Decimal("0.00"), broker_cost_basis=Decimal("420.00"),
                  policy=policy, detected_at=AT)
    return PositionDrift(**(values | fields))


def line(event) -> str | None:
    return render(subject_for(event), encode_event(event), False, TailFilter())


@pytest.mark.parametrize(("policy", "means"), [
    ("alert", "nothing changed"),
    ("adopt", "the ledger adopts the broker's figures"),
    ("reduce", "advisory: trading is unchanged; to allow only reductions: tradectl halt --reducing"),
])
def test_line_when_a_position_drifts_then_severity_both_quantities_the_difference_and_the_policy(policy, means):
    assert line(drift(policy)) == (
        "14:30:05.123  PositionDrift           KO      DRIFT CRITICAL: ledger 0 vs broker 7 (difference +7); "
        f"cost basis ledger 0.00 vs broker 420.00; policy {policy}: {means}  [positions.drift.KO]")


def test_line_when_the_broker_holds_less_then_the_difference_is_negative():
    short = drift("alert", severity="warning", ledger_qty=Decimal(10), broker_qty=Decimal("8.5"),
                  qty_diff=Decimal("-1.5"), ledger_cost_basis=Decimal("1000.00"), broker_cost_basis=Decimal("850.00"))

    assert line(short) == (
        "14:30:05.123  PositionDrift           KO      DRIFT WARNING: ledger 10 vs broker 8.5 (difference -1.5); "
        "cost basis ledger 1000.00 vs broker 850.00; policy alert: nothing changed  [positions.drift.KO]")


def test_line_when_a_drift_is_reconciled_then_how_what_the_ledger_holds_now_and_which_drift():
    reconciled = PositionReconciled(producer="position-sync-service", correlation_id=str(DRIFT_ID), occurred_at=AT,
                                    symbol="KO", qty=Decimal(7), cost_basis=Decimal("420.00"),
                                    resolution="adopted_broker_qty", drift_event_id=DRIFT_ID)

    assert line(reconciled) == (
        "14:30:05.123  PositionReconciled      KO      RECONCILED (adopted_broker_qty): ledger now 7 at cost basis "
        f"420.00; drift {DRIFT_ID}  [positions.reconciled.KO]")
