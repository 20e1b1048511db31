"""The position ledger of one account: per symbol, FIFO tax lots beside the average Alpaca reports, an income
ledger, and the record of everything applied, so every input counts once.

Inputs, each idempotent: ``apply_fill`` (a ``Fill``; by execution id, in cumulative order per order — see
``sequencer``), ``apply_action`` (a whole ``CorporateAction``; by action id), ``apply_adjustment`` (a
reconciliation ``Adjustment``; by its id). Outputs are values: ``FillOutcome`` (with each lot relief and its
realized P&L), ``ActionApplied`` (before and after, for ``CorporateActionApplied``), ``PositionView`` (for
``PositionSnapshot``) and ``sync_figures`` (the Alpaca-method figures that ``reconcile`` compares with a broker
read). No clock is read here: times come with the inputs or as arguments.

One ``Ledger`` per account (one account today); a shell keeps a dict of them if that changes.

Decisions: held fills of a symbol are booked before a corporate action on it (they happened before it was
booked); a name change or merger into a symbol already held books the moved lots after the held ones, and the
Alpaca-method average restarts from the merged totals; ``PositionView.avg_entry_price`` / ``cost_basis`` are the
FIFO tax lots' (ours), ``PositionView.alpaca`` the broker-comparable figures; an adjustment moves lots without a
trade, so it realizes nothing, and today's P&L restarts from it.

State is plain attributes (lots as tuples of values, Decimal totals, sets and dicts of ids), so a shell can
persist it, or rebuild it by re-folding its stored inputs in order (``fold_fills`` runs about 3 µs a fill).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Iterable, NamedTuple

from tradebus_contracts.trading_day import day_start, trading_date

from .alpaca_average import AlpacaAverage, AverageView
from .corporate_actions import ActionAlert, ActionKind, AlertCode, CorporateAction, cash_out, lower_basis
from .lots import ZERO, FifoLots, Lot, Relief, scaled
from .reconcile import Adjustment, Figures
from .sequencer import BUY, Admission, Fill, FillSequencer

MONEY_PLACES = Decimal("0.000001")
RESHAPING = frozenset({ActionKind.SPLIT, ActionKind.NAME_CHANGE, ActionKind.STOCK_MERGER, ActionKind.CASH_MERGER,
                       ActionKind.STOCK_CASH_MERGER})  # actions that change quantities or symbols


class Position:
    """One symbol: its tax lots (with realized P&L so far) and the Alpaca-method figures beside them."""

    __slots__ = ("symbol", "lots", "average")

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.lots = FifoLots()
        self.average = AlpacaAverage()


class Booked(NamedTuple):
    fill: Fill
    reliefs: tuple[Relief, ...]

    @property
    def realized(self) -> Decimal:
        return sum((r.realized for r in self.reliefs), ZERO)


class FillOutcome(NamedTuple):
    """What one fill did: how it was admitted, and every fill booked because of it (itself, then any held fills
    it uncovered), in booking order."""

    admission: Admission
    booked: tuple[Booked, ...]


@dataclass(frozen=True, slots=True)
class IncomeEntry:
    action_id: str
    symbol: str
    kind: ActionKind
    per_share: Decimal | None
    entitled_qty: Decimal | None  # the broker's
    held_qty: Decimal  # ours when applied
    amount: Decimal
    effective: date


@dataclass(frozen=True, slots=True)
class ActionApplied:
    action: CorporateAction
    symbol_after: str
    qty_before: Decimal
    qty_after: Decimal
    cost_basis_before: Decimal
    cost_basis_after: Decimal
    realized: Decimal
    income: IncomeEntry | None

    @property
    def broker_qty_agrees(self) -> bool | None:
        """Whether the broker acted on the quantity we held (None when it did not say)."""
        return None if self.action.broker_qty is None else abs(self.action.broker_qty) == abs(self.qty_before)


@dataclass(frozen=True, slots=True)
class PositionView:
    symbol: str
    as_of: datetime
    qty: Decimal
    avg_entry_price: Decimal
    cost_basis: Decimal
    alpaca: AverageView
    realized_pnl: Decimal
    unrealized_pnl: Decimal | None
    today_pnl: Decimal | None
    lots: tuple[Lot, ...]


class Ledger:
    def __init__(self, account: str = "default") -> None:
        self.account = account
        self.positions: dict[str, Position] = {}
        self.sequencer = FillSequencer()
        self.income: list[IncomeEntry] = []
        self.applied_actions: dict[str, frozenset[str]] = {}
        self.applied_adjustments: set[str] = set()

    def position(self, symbol: str) -> Position:
        pos = self.positions.get(symbol)
        if pos is None:
            pos = self.positions[symbol] = Position(symbol)
        return pos

    # --- fills ---------------------------------------------------------------------------------------------

    def apply_fill(self, fill: Fill) -> FillOutcome:
        admission, ready = self.sequencer.admit(fill)
        return FillOutcome(admission, tuple([Booked(f, tuple(self._book(f))) for f in ready]))

    def release_overdue(self, now: datetime, wait: timedelta = timedelta(seconds=5)) -> tuple[Booked, ...]:
        """Book held fills whose gap is older than ``wait`` (see ``sequencer``); call it from the sync tick."""
        return tuple(Booked(f, tuple(self._book(f))) for f in self.sequencer.release_overdue(now, wait))

    def symbols_in_flight(self) -> frozenset[str]:
        """Symbols with fills held back for a gap: their orders are not fully counted yet."""
        return self.sequencer.held_symbols()

    def _book(self, fill: Fill, record: bool = True) -> list[Relief]:
        pos = self.positions.get(fill.symbol) or self.position(fill.symbol)
        qty, price, at = fill.qty, fill.price, fill.executed_at
        if fill.side is not BUY:
            qty = -qty
        value = qty * price
        reliefs = pos.lots.book(fill.execution_id, at, qty, value, price, record)
        pos.average.book(qty, value, trading_date(at))
        return reliefs

    # --- corporate actions ---------------------------------------------------------------------------------

    def apply_action(self, action: CorporateAction) -> ActionApplied | ActionAlert | None:
        """Apply a whole action once; None when it was applied before (a replay changes nothing); an alert, and
        no change, when executions after its effective date were booked first (see ``corporate_actions``)."""
        if action.action_id in self.applied_actions:
            return None
        for fill in self.sequencer.release_symbol(action.symbol):
            self._book(fill)
        pos = self.position(action.symbol)
        booked_after = pos.average.last_execution_day
        if action.kind in RESHAPING and booked_after and booked_after >= action.effective:
            return ActionAlert(AlertCode.BOOKED_OUT_OF_ORDER, action.action_id, action.symbol,
                               f"executions of {booked_after} were booked before this action effective "
                               f"{action.effective}: rebuild the ledger with the action in its place", action.leg_ids)
        qty_before, cost_before, realized_before = pos.lots.qty, pos.lots.cost, pos.lots.realized
        pos.average.roll(action.effective)
        income = None
        kind, per_share = action.kind, action.cash_per_share or ZERO
        if kind is ActionKind.CASH_DIVIDEND:
            income = self._income(action, pos, action.cash_amount or per_share * (action.broker_qty or pos.lots.qty))
        elif kind is ActionKind.RETURN_OF_CAPITAL:
            if pos.lots.qty > 0:
                self._lower_basis(pos, per_share, day_start(action.effective))
            income = self._income(action, pos, action.cash_amount or per_share * (action.broker_qty or pos.lots.qty))
        elif kind is ActionKind.CASH_MERGER:
            pos.lots.realized += cash_out(pos.lots.lots, per_share)
            pos.lots.replace(())
            pos.average.reset(ZERO, ZERO, action.effective, action.action_id)
        else:  # split, name change, stock merger, stock and cash merger
            if kind is ActionKind.STOCK_CASH_MERGER and pos.lots.qty > 0:
                self._lower_basis(pos, per_share)
            if action.ratio is not None and action.ratio != 1:
                pos.lots.replace(scaled(pos.lots.lots, action.ratio))
                pos.average.scale(action.ratio)
            if action.new_symbol and action.new_symbol != action.symbol:
                pos = self._move(pos, action.new_symbol)
        self.applied_actions[action.action_id] = frozenset(action.leg_ids)
        return ActionApplied(action, pos.symbol, qty_before, pos.lots.qty, cost_before, pos.lots.cost,
                             pos.lots.realized - realized_before, income)

    def _income(self, action: CorporateAction, pos: Position, amount: Decimal) -> IncomeEntry:
        entry = IncomeEntry(action.action_id, action.symbol, action.kind, action.cash_per_share, action.broker_qty,
                            pos.lots.qty, amount, action.effective)
        self.income.append(entry)
        return entry

    @staticmethod
    def _lower_basis(pos: Position, per_share: Decimal, opened_before: datetime | None = None) -> None:
        lots, excess = lower_basis(pos.lots.lots, per_share, opened_before)
        pos.lots.replace(lots)
        pos.lots.realized += excess
        pos.average.lower_cost(per_share, opened_before)

    def _move(self, pos: Position, symbol: str) -> Position:
        del self.positions[pos.symbol]
        target = self.positions.get(symbol)
        if target is None or not target.lots.qty:
            pos.symbol = symbol
            if target is not None:
                pos.lots.realized += target.lots.realized
            self.positions[symbol] = pos
            return pos
        for lot in pos.lots.lots:
            target.lots.book(lot.lot_id, lot.opened_at, lot.qty, lot.cost)
        target.lots.realized += pos.lots.realized
        day = target.average.day or pos.average.day
        assert day is not None  # target holds shares, so it has booked something
        merged = (target.average.qty + pos.average.qty, target.average.cost + pos.average.cost)
        target.average.reset(*merged, day, f"merged:{pos.symbol}")
        return target

    # --- reconciliation ------------------------------------------------------------------------------------

    def apply_adjustment(self, adjustment: Adjustment) -> bool:
        """Make the ledger equal the broker for one symbol, once per adjustment id; False when already applied."""
        key = str(adjustment.adjustment_id)
        if key in self.applied_adjustments:
            return False
        pos = self.position(adjustment.symbol)
        after, lot_id = adjustment.after, f"adjustment:{key}"
        if after.qty != pos.lots.qty:
            pos.lots.adjust_to(after.qty, after.avg_entry_price, lot_id, adjustment.at)
        pos.average.reset(after.qty, after.cost_basis, trading_date(adjustment.at), lot_id)
        self.applied_adjustments.add(key)
        return True

    def sync_figures(self, as_of: datetime) -> dict[str, Figures]:
        """The Alpaca-method figures of every symbol on ``as_of``'s New York date, for ``reconcile``."""
        day = trading_date(as_of)
        views = {symbol: pos.average.view(day) for symbol, pos in self.positions.items()}
        return {symbol: Figures(v.qty, v.avg_entry_price, v.cost_basis) for symbol, v in views.items()}

    # --- reading -------------------------------------------------------------------------------------------

    def snapshot(self, symbol: str, as_of: datetime, quote: Decimal | None = None,
                 prior_close: Decimal | None = None) -> PositionView:
        """The position at ``as_of``. Unrealized P&L needs a ``quote``; today's P&L also the ``prior_close``
        (split-adjusted): quantity × quote − start-of-day quantity × prior close − net cash paid today."""
        pos = self.positions.get(symbol) or Position(symbol)
        lots, day = pos.lots, trading_date(as_of)
        unrealized = today = None
        if quote is not None:
            unrealized = _money(lots.qty * quote - lots.cost)
            if prior_close is not None:
                start_qty, paid = pos.average.day_flows(day)
                today = _money(lots.qty * quote - start_qty * prior_close - paid)
        avg = lots.cost / lots.qty if lots.qty else ZERO
        return PositionView(symbol, as_of, lots.qty, _money(avg), _money(lots.cost), pos.average.view(day),
                            _money(lots.realized), unrealized, today, lots.lots)


def _money(value: Decimal) -> Decimal:
    return value.quantize(MONEY_PLACES)


def fold_fills(fills: Iterable[Fill], ledger: Ledger | None = None, record: bool = False) -> Ledger:
    """Every fill into a ledger, in the order given: ``apply_fill`` without its outcome values (a rebuild from
    stored fills, and the benchmark's entry point). The ledger ends in the same state either way; ``record`` only
    decides whether each relief is also built as a value (nothing keeps it here)."""
    ledger = ledger or Ledger()
    admit, book = ledger.sequencer.admit, ledger._book
    for fill in fills:
        for ready in admit(fill)[1]:
            book(ready, record)
    return ledger
