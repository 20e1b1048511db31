"""The contract events this service publishes, made from the core's values (pure).

Event ids are derived (uuid5) from what the event states — the drift's id, the adjustment's id, the action id, the
read and symbol of a snapshot — so deciding the same thing twice (a redelivery, a re-run after a crash) publishes
the same event, which JetStream's duplicate window and the readers drop.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from tradebus_contracts import (
    CorporateActionApplied,
    CorporateActionType,
    PositionDrift,
    PositionReconciled,
    PositionSnapshot,
)
from tradebus_contracts.services import Service

from .corporate_actions import ActionKind
from .ledger import MONEY_PLACES, ActionApplied
from .reads import read_time
from .reconcile import NAMESPACE, Adjustment, Drift, Figures, Policy, Reconciled

PRODUCER = Service.POSITION_SYNC
ACTION_TYPES = {
    ActionKind.SPLIT: CorporateActionType.SPLIT,
    ActionKind.CASH_DIVIDEND: CorporateActionType.DIVIDEND,
    ActionKind.RETURN_OF_CAPITAL: CorporateActionType.RETURN_OF_CAPITAL,
    ActionKind.NAME_CHANGE: CorporateActionType.NAME_CHANGE,
    ActionKind.STOCK_MERGER: CorporateActionType.MERGER,
    ActionKind.CASH_MERGER: CorporateActionType.MERGER,
    ActionKind.STOCK_CASH_MERGER: CorporateActionType.MERGER,
}


def money(value: Decimal) -> Decimal:
    return value.quantize(MONEY_PLACES)


def drift_event(drift: Drift, policy: Policy) -> PositionDrift:
    return PositionDrift(
        event_id=drift.drift_id, producer=PRODUCER, correlation_id=str(drift.drift_id), symbol=drift.symbol,
        severity=drift.severity.value, ledger_qty=drift.ledger.qty, broker_qty=drift.broker.qty,
        qty_diff=drift.qty_diff, ledger_cost_basis=money(drift.ledger.cost_basis),
        broker_cost_basis=money(drift.broker.cost_basis), policy=policy.value,
        first_seen_at=read_time(drift.first_read_id), detected_at=drift.detected_at)


def adopted_event(adjustment: Adjustment) -> PositionReconciled:
    what = "qty" if adjustment.before.qty != adjustment.after.qty else "basis"
    return PositionReconciled(
        event_id=adjustment.adjustment_id, producer=PRODUCER, correlation_id=str(adjustment.drift_id),
        causation_id=adjustment.drift_id, symbol=adjustment.symbol, qty=adjustment.after.qty,
        cost_basis=money(adjustment.after.cost_basis), resolution=f"adopted_broker_{what}",
        drift_event_id=adjustment.drift_id)


def agreed_event(reconciled: Reconciled) -> PositionReconciled:
    return PositionReconciled(
        event_id=uuid.uuid5(NAMESPACE, f"reconciled|{reconciled.drift_id}"), producer=PRODUCER,
        correlation_id=str(reconciled.drift_id), causation_id=reconciled.drift_id, symbol=reconciled.symbol,
        qty=reconciled.figures.qty, cost_basis=money(reconciled.figures.cost_basis), resolution=reconciled.resolution,
        drift_event_id=reconciled.drift_id)


def snapshot_event(symbol: str, figures: Figures, source: str, read_id: str, as_of: datetime) -> PositionSnapshot:
    return PositionSnapshot(
        event_id=uuid.uuid5(NAMESPACE, f"snapshot|{source}|{read_id}|{symbol}"), producer=PRODUCER,
        correlation_id=read_id, symbol=symbol, qty=figures.qty, avg_entry_price=money(figures.avg_entry_price),
        cost_basis=money(figures.cost_basis), source=source, as_of=as_of)


def action_event(applied: ActionApplied) -> CorporateActionApplied:
    action = applied.action
    return CorporateActionApplied(
        event_id=uuid.uuid5(NAMESPACE, f"action|{action.action_id}"), producer=PRODUCER,
        correlation_id=action.action_id, symbol=action.symbol, action=ACTION_TYPES[action.kind],
        action_id=action.action_id, new_symbol=action.new_symbol if action.new_symbol != action.symbol else None,
        ratio=action.ratio, cash_per_share=action.cash_per_share, ex_date=action.effective,
        qty_before=applied.qty_before, qty_after=applied.qty_after,
        cost_basis_before=money(applied.cost_basis_before), cost_basis_after=money(applied.cost_basis_after),
        cash_amount=applied.income.amount if applied.income is not None else action.cash_amount)
