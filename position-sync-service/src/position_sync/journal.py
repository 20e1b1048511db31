"""The journal: every input the ledger took, in booking order, as plain rows; and the fold that turns them back
into a ledger. The journal is the ledger's only durable state: on start (and after any failed write) the ledger is
rebuilt by folding it, so a crash anywhere changes nothing (``fold_fills`` runs about 3 µs a fill).

Inputs, each applied once by the ledger: a ``Fill`` (taken through ``coverage``: what is already covered is not an
input), a ``CorporateAction`` (whole, from ``corporate_actions``), an ``Adjustment`` (a reconciliation under
``adopt``) and a ``Release`` (held fills given up on at a moment: recorded, so a re-fold releases them at the same
place in the FIFO order).

Rebuilds write a new journal: ``in_time_order`` puts inputs where they happened (an action at the start of its
effective New York day, before that day's executions; fills by execution time, an order's by cumulative quantity),
``plan_rebuild`` merges the broker's FILL history with what the journal holds that the history does not.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from tradebus_contracts.orders import OrderSide
from tradebus_contracts.trading_day import day_start

from .corporate_actions import ActionAlert, ActionKind, CorporateAction
from .coverage import Coverage
from .ledger import ActionApplied, Ledger
from .reconcile import Adjustment, Figures
from .sequencer import Fill


@dataclass(frozen=True, slots=True)
class Release:
    release_id: str
    at: datetime
    wait_s: float


Input = Fill | CorporateAction | Adjustment | Release


@dataclass(frozen=True, slots=True)
class Row:
    """One journal row. Fills use typed columns (a restart reads a million of them); the rest a JSON body."""

    kind: str
    input_id: str
    at: datetime
    symbol: str | None = None
    order_id: str | None = None
    side: str | None = None
    qty: Decimal | None = None
    price: Decimal | None = None
    cum_qty: Decimal | None = None
    final: bool | None = None
    body: str | None = None


def encode(item: Input) -> Row:
    if isinstance(item, Fill):
        return Row("fill", item.execution_id, item.executed_at, item.symbol, item.order_id, item.side.value, item.qty,
                   item.price, item.cum_qty, item.order_final)
    if isinstance(item, CorporateAction):
        body = {"action_id": item.action_id, "kind": item.kind.value, "subtype": item.subtype, "symbol": item.symbol,
                "effective": item.effective.isoformat(), "leg_ids": list(item.leg_ids), "new_symbol": item.new_symbol,
                **{k: _text(getattr(item, k)) for k in ("ratio", "cash_per_share", "cash_amount", "broker_qty")}}
        return Row("action", item.action_id, day_start(item.effective), item.symbol, body=json.dumps(body))
    if isinstance(item, Adjustment):
        body = {"adjustment_id": str(item.adjustment_id), "symbol": item.symbol, "before": _figures(item.before),
                "after": _figures(item.after), "reason": item.reason, "drift_id": str(item.drift_id),
                "at": item.at.isoformat()}
        return Row("adjustment", str(item.adjustment_id), item.at, item.symbol, body=json.dumps(body))
    return Row("release", item.release_id, item.at, body=json.dumps({"wait_s": item.wait_s}))


def decode(row: Mapping[str, Any]) -> Input:
    kind = row["kind"]
    if kind == "fill":
        return Fill(row["input_id"], row["order_id"], row["symbol"], OrderSide(row["side"]), row["qty"], row["price"],
                    row["cum_qty"], row["at"], row["final"])
    body = json.loads(row["body"]) if isinstance(row["body"], str) else row["body"]
    if kind == "action":
        return CorporateAction(body["action_id"], ActionKind(body["kind"]), body["subtype"], body["symbol"],
                               date.fromisoformat(body["effective"]), tuple(body["leg_ids"]), body["new_symbol"],
                               *(_dec(body[k]) for k in ("ratio", "cash_per_share", "cash_amount", "broker_qty")))
    if kind == "adjustment":
        return Adjustment(UUID(body["adjustment_id"]), body["symbol"], _unfigures(body["before"]),
                          _unfigures(body["after"]), body["reason"], UUID(body["drift_id"]),
                          datetime.fromisoformat(body["at"]))
    if kind == "release":
        return Release(row["input_id"], row["at"], float(body["wait_s"]))
    raise ValueError(f"unknown journal row kind {kind!r}")


# --- the fold -------------------------------------------------------------------------------------------------


@dataclass
class Folded:
    """A ledger and its coverage, with what each input came to while folding."""

    ledger: Ledger = field(default_factory=Ledger)
    coverage: Coverage = field(default_factory=Coverage)

    def take(self, item: Input) -> tuple[Input | list[Fill] | None, object]:
        """Apply one input: (the input as journaled — for a fill, the list of its new parts (``coverage``) — or None
        when it adds nothing, what the ledger made of it)."""
        if isinstance(item, Fill):
            fresh = self.coverage.claim(item)
            if not fresh:
                return None, None
            return fresh, [self.ledger.apply_fill(part) for part in fresh]
        if isinstance(item, CorporateAction):
            result = self.ledger.apply_action(item)
            return (item if isinstance(result, ActionApplied) else None), result
        if isinstance(item, Adjustment):
            return (item if self.ledger.apply_adjustment(item) else None), None
        released = self.ledger.release_overdue(item.at, timedelta(seconds=item.wait_s))
        return (item if released else None), released


    def fold(self, inputs: Iterable[Input], kept: list[Input] | None = None,
             actions: dict[str, ActionApplied | ActionAlert] | None = None) -> None:
        """Every input, in order (``take`` without its values on the fills' hot path: ``fold_fills``' loop with the
        coverage in front). ``kept`` collects the inputs that counted (what a rewritten journal holds), ``actions``
        what each corporate action came to."""
        claim, admit, book = self.coverage.claim, self.ledger.sequencer.admit, self.ledger._book
        for item in inputs:
            if type(item) is Fill:
                for part in claim(item):
                    if kept is not None:
                        kept.append(part)
                    for ready in admit(part)[1]:
                        book(ready, False)
                continue
            taken, result = self.take(item)
            if actions is not None and isinstance(item, CorporateAction) and result is not None:
                actions[item.action_id] = result  # type: ignore[assignment]
            if kept is not None and taken is not None:
                kept.extend(taken if isinstance(taken, list) else [taken])


def fold(inputs: Iterable[Input]) -> tuple[Folded, list[Input], dict[str, ActionApplied | ActionAlert]]:
    """Every input into a fresh ledger: the state, the inputs that counted and what each action came to."""
    state, kept, actions = Folded(), [], {}
    state.fold(inputs, kept, actions)
    return state, kept, actions


def in_time_order(inputs: Iterable[Input]) -> list[Input]:
    """Inputs where they happened: an action at the start of its effective day (before that day's executions), an
    order's executions by cumulative quantity; ties keep their journal order."""
    return sorted(inputs, key=_when)


def _when(item: Input) -> tuple[datetime, int, str, Decimal]:
    if isinstance(item, Fill):
        return item.executed_at, 1, item.order_id, item.cum_qty
    if isinstance(item, CorporateAction):
        return day_start(item.effective), 0, "", Decimal(0)
    return item.at, 2, "", Decimal(0)


def plan_rebuild(history: Iterable[Fill], journal: Iterable[Input], started_at: datetime,
                 recent: timedelta = timedelta(minutes=5)) -> list[Input]:
    """The inputs of a ledger rebuilt from the broker's FILL history: every history fill, every corporate action
    the journal holds (FILL activities do not carry them), and the journal's fills the history does not cover that
    executed within ``recent`` of the rebuild (the broker may not list them yet); in time order. Adjustments and
    releases are dropped: the broker's history replaces what they made up for. Older fills the broker does not
    know are dropped too (the broker is the authority on what executed); ``dropped_fills`` names them."""
    history = list(history)
    known = Coverage()
    for fill in in_time_order(history):
        known.claim(fill)
    kept: list[Input] = list(history)
    for item in journal:
        if isinstance(item, CorporateAction):
            kept.append(item)
        elif isinstance(item, Fill) and item.executed_at >= started_at - recent:
            kept += known.claim(item)
    return in_time_order(kept)


def dropped_fills(history: Iterable[Fill], journal: Iterable[Input], planned: Iterable[Input]) -> list[Fill]:
    """The journal's fills a rebuild leaves out although the history does not cover them."""
    known = Coverage()
    for fill in in_time_order(history):
        known.claim(fill)
    kept = {item.execution_id for item in planned if isinstance(item, Fill)}
    return [item for item in journal if isinstance(item, Fill) and item.execution_id not in kept
            and known.claim(item)]


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _figures(f: Figures) -> dict[str, str]:
    return {"qty": format(f.qty, "f"), "avg_entry_price": format(f.avg_entry_price, "f"),
            "cost_basis": format(f.cost_basis, "f")}


def _unfigures(d: Mapping[str, str]) -> Figures:
    return Figures(Decimal(d["qty"]), Decimal(d["avg_entry_price"]), Decimal(d["cost_basis"]))
