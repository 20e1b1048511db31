"""Corporate actions: activity legs grouped into whole actions, and what each action does to lots.

Every position-changing action arrives as two or three legs sharing ``group_id`` (and ``ca_id``). A group is
applied only when it is whole — all the legs its kind requires are there — and then at once; until then it waits,
and a group still missing a leg after a grace period (or in a batch that is supposed to be complete) is an
``ActionAlert`` (``MISSING_LEG``), never a half-applied change. The ledger records each applied action id with its
leg ids, so a replayed feed finds every leg already applied and changes nothing.

| kind | legs required | effect on the ledger |
|---|---|---|
| SPLIT FSPLIT / RSPLIT | removal, allocation | lots' qty × ratio, total basis kept (price ÷ ratio), fractions kept |
| DIV CDIV (and SPD, v1 DIV) | cash | income ledger: per-share amount, entitled quantity, amount; lots unchanged |
| DIV ROC (v1 DIVROC) | cash | basis of long lots opened before the ex-date − rate × qty; excess below 0 realized |
| NC (SNC / CNC / SCNC) | removal, allocation | lots move to the new symbol |
| MA SMA | removal, allocation | like a split into the acquirer's symbol |
| MA CMA | removal, cash | lots closed at the cash per share; realized = cash − basis |
| MA SCMA | removal, allocation, cash | cash lowers basis (as ROC), then like SMA |

Decisions where Alpaca's behaviour is ambiguous:

* Ratios come from the details' rates (``new_rate / old_rate``, ``acquirer_rate / acquiree_rate``) and only
  without them from the legs (allocation qty / removed qty); the legs' quantities are the broker's position, ours
  may differ, and the difference is the sync's to report, not a reason to copy the broker's number.
* A ratio is applied to our own lots; a quantity that gets more than 9 decimals is cut towards zero to 9 (Alpaca's
  precision) and the last lot absorbs the remainder, so the position equals the rounded total. No cash in lieu: a
  cash leg beside a split is reported (``EXTRA_LEG``) and not applied.
* A leg whose status is not ``executed`` or that corrects an earlier one (``previous_id``) is reported
  (``CORRECTION``) and never applied: reversing an action is a decision for a person.
* Types that change positions but are not modelled (SPIN, SDIV, USPLIT, REORG, REO, VOF, JNLS, …) and any type we
  do not know are ``UNSUPPORTED`` alerts; cash-only types (fees, interest, withholding, journals of cash) and trades
  (counted from ``FillReported``) are ignored.
* A return of capital lowers the basis of the long lots opened before its ex-date (the entitled shares still
  held), so it may arrive weeks later, when it is paid, after more trading. Shares sold between the ex-date and the
  payment keep their realized P&L; the cash is in the income ledger. On a short position it is income paid
  (negative) and lots do not change. Alpaca's average is lowered the same way (its day lots before the ex-date);
  Alpaca does not document this, so a basis difference after a ROC is possible and shows as basis drift.
* Executions dated (New York) on or after an action's effective date are taken as already after it: Alpaca's
  beginning-of-day job applies the action before that day's trading. An action that changes quantities or symbols
  (splits, name changes, mergers) is therefore refused with ``BOOKED_OUT_OF_ORDER`` when the position already
  booked such executions: scaling them again would be wrong, and undoing them needs the history, so the shell
  rebuilds the ledger from its stored inputs with the action in its place (every input is idempotent, so a rebuild
  is a plain re-fold).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Iterable, Mapping

from .activities import ActivityLeg, LegRole
from .lots import ZERO, Lot


class ActionKind(StrEnum):
    SPLIT = "split"
    CASH_DIVIDEND = "cash_dividend"
    RETURN_OF_CAPITAL = "return_of_capital"
    NAME_CHANGE = "name_change"
    STOCK_MERGER = "stock_merger"
    CASH_MERGER = "cash_merger"
    STOCK_CASH_MERGER = "stock_cash_merger"


R, A, C = LegRole.REMOVAL, LegRole.ALLOCATION, LegRole.CASH
KINDS: dict[tuple[str, str | None], tuple[ActionKind, frozenset[LegRole]]] = {
    ("SPLIT", "FSPLIT"): (ActionKind.SPLIT, frozenset({R, A})),
    ("SPLIT", "RSPLIT"): (ActionKind.SPLIT, frozenset({R, A})),
    ("DIV", "CDIV"): (ActionKind.CASH_DIVIDEND, frozenset({C})),
    ("DIV", "SPD"): (ActionKind.CASH_DIVIDEND, frozenset({C})),
    ("DIV", None): (ActionKind.CASH_DIVIDEND, frozenset({C})),
    ("DIV", "ROC"): (ActionKind.RETURN_OF_CAPITAL, frozenset({C})),
    ("DIVROC", None): (ActionKind.RETURN_OF_CAPITAL, frozenset({C})),
    ("NC", "SNC"): (ActionKind.NAME_CHANGE, frozenset({R, A})),
    ("NC", "CNC"): (ActionKind.NAME_CHANGE, frozenset({R, A})),
    ("NC", "SCNC"): (ActionKind.NAME_CHANGE, frozenset({R, A})),
    ("NC", None): (ActionKind.NAME_CHANGE, frozenset({R, A})),
    ("MA", "SMA"): (ActionKind.STOCK_MERGER, frozenset({R, A})),
    ("MA", "CMA"): (ActionKind.CASH_MERGER, frozenset({R, C})),
    ("MA", "SCMA"): (ActionKind.STOCK_CASH_MERGER, frozenset({R, A, C})),
}
IGNORED_TYPES = frozenset({"FILL", "TRD", "PTC", "FEE", "INT", "CSD", "CSW", "CSR", "JNLC", "TRANS", "DIVNRA",
                           "DIVWH", "DIVTW", "DIVFEE", "WH", "MEM", "CFEE", "OCT"})


class AlertCode(StrEnum):
    MISSING_LEG = "MISSING_LEG"
    EXTRA_LEG = "EXTRA_LEG"
    INCONSISTENT_GROUP = "INCONSISTENT_GROUP"
    UNSUPPORTED = "UNSUPPORTED"
    CORRECTION = "CORRECTION"
    LEG_AFTER_APPLY = "LEG_AFTER_APPLY"
    BOOKED_OUT_OF_ORDER = "BOOKED_OUT_OF_ORDER"


@dataclass(frozen=True, slots=True)
class ActionAlert:
    """Something a person must look at; the ledger did not change because of it."""

    code: AlertCode
    action_id: str
    symbol: str | None
    message: str
    leg_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CorporateAction:
    """A whole action, ready to apply. ``ratio`` = new shares per old share; ``broker_qty`` = the quantity the
    broker acted on (removed or entitled), kept to compare with ours."""

    action_id: str
    kind: ActionKind
    subtype: str | None
    symbol: str
    effective: date
    leg_ids: tuple[str, ...]
    new_symbol: str | None = None
    ratio: Decimal | None = None
    cash_per_share: Decimal | None = None
    cash_amount: Decimal | None = None
    broker_qty: Decimal | None = None


class Status(StrEnum):
    READY = "ready"
    WAITING = "waiting"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    ALERT = "alert"


@dataclass(frozen=True, slots=True)
class Collected:
    """What one leg (or one group of a batch) came to: an action to apply, alerts, or nothing yet."""

    status: Status
    action_id: str
    action: CorporateAction | None = None
    alerts: tuple[ActionAlert, ...] = ()
    missing: frozenset[LegRole] = frozenset()


Applied = Mapping[str, frozenset[str]]  # action id -> leg ids applied under it (the ledger's record)


def plan_group(legs: Iterable[ActivityLeg]) -> Collected:
    """A group's legs → a whole action, a wait for missing roles, or alerts. Pure; applies nothing."""
    legs = tuple(legs)
    first = legs[0]
    action_id, ids = first.action_id, tuple(leg.leg_id for leg in legs)

    def alert(code: AlertCode, message: str) -> Collected:
        return Collected(Status.ALERT, action_id, alerts=(ActionAlert(code, action_id, first.symbol, message, ids),))

    if first.activity_type in IGNORED_TYPES:
        return Collected(Status.IGNORED, action_id)
    if any(leg.status != "executed" or leg.previous_id for leg in legs):
        return alert(AlertCode.CORRECTION, "a leg is a correction or cancellation: not applied automatically")
    kinds = {(leg.activity_type, leg.subtype) for leg in legs}
    if len(kinds) > 1:
        return alert(AlertCode.INCONSISTENT_GROUP, f"legs of one group disagree on the type: {sorted(map(str, kinds))}")
    if (first.activity_type, first.subtype) not in KINDS:
        return alert(AlertCode.UNSUPPORTED, f"{first.activity_type}/{first.subtype} is not applied automatically")
    kind, required = KINDS[first.activity_type, first.subtype]
    by_role: dict[LegRole, list[ActivityLeg]] = {}
    for leg in legs:
        by_role.setdefault(leg.role, []).append(leg)
    if any(len(by_role.get(role, ())) > 1 for role in required):
        return alert(AlertCode.INCONSISTENT_GROUP, "more than one leg for the same role")
    missing = required - by_role.keys()
    if missing:
        return Collected(Status.WAITING, action_id, missing=frozenset(missing))
    legs_of = {role: by_role[role][0] for role in required}
    action = _action(kind, first, legs_of, ids)  # every leg's id: a replayed extra leg is a repeat too
    if action is None:
        return alert(AlertCode.INCONSISTENT_GROUP, "the legs do not give a ratio or cash amount to apply")
    extra = tuple(ActionAlert(AlertCode.EXTRA_LEG, action_id, action.symbol,
                              f"a {leg.role} leg beside a {kind} is not applied", (leg.leg_id,))
                  for leg in legs if leg.role not in required)
    return Collected(Status.READY, action_id, action=action, alerts=extra)


def _action(kind: ActionKind, first: ActivityLeg, legs: Mapping[LegRole, ActivityLeg],
            leg_ids: tuple[str, ...]) -> CorporateAction | None:
    removal, allocation, cash = legs.get(R), legs.get(A), legs.get(C)
    source = removal or cash
    assert source is not None  # every kind requires a removal or a cash leg
    if not source.symbol or source.effective is None:
        return None
    base = {"action_id": first.action_id, "kind": kind, "subtype": first.subtype, "symbol": source.symbol,
            "effective": source.effective, "leg_ids": leg_ids}
    if kind in (ActionKind.CASH_DIVIDEND, ActionKind.RETURN_OF_CAPITAL):
        entitled = source.number("entitled_qty", "qty")
        amount = source.number("net_amount", "cash_payout")
        rate = source.number("rate", "per_share_amount") or (amount / entitled if amount and entitled else None)
        return CorporateAction(**base, cash_per_share=rate, cash_amount=amount, broker_qty=entitled) if rate else None
    assert removal is not None and removal.qty is not None
    removed = -removal.qty
    ratio = None
    if allocation is not None:
        new_symbol = allocation.symbol or source.symbol
        if kind is ActionKind.NAME_CHANGE:
            ratio = Decimal(1)
        else:
            pairs = (("new_rate", "old_rate"), ("acquirer_rate", "acquiree_rate"))
            ratio = _rate_ratio(removal, *pairs) or _rate_ratio(allocation, *pairs)
            ratio = ratio or (allocation.qty / removed if allocation.qty else None)
        if not ratio or ratio < 0:
            return None
        base["new_symbol"] = new_symbol
    per_share = amount = None
    if cash is not None:
        amount = cash.net_amount or cash.number("cash_payout")
        per_share = cash.number("cash_rate") or removal.number("cash_rate") or (amount / removed if amount else None)
        if not per_share:
            return None
    return CorporateAction(**base, ratio=ratio, cash_per_share=per_share, cash_amount=amount, broker_qty=removed)


def _rate_ratio(leg: ActivityLeg, *pairs: tuple[str, str]) -> Decimal | None:
    for new_key, old_key in pairs:
        new, old = leg.number(new_key), leg.number(old_key)
        if new and old:
            return new / old
    return None


class ActionCollector:
    """Legs as they stream in, grouped by action id until whole. ``overdue`` alerts once per group still
    missing legs after ``grace``; a late leg can still complete it. A group that came to an alert stays here, so
    its later legs alert too instead of applying what is left. In-memory: a restart re-reads the feed."""

    def __init__(self, grace: timedelta = timedelta(minutes=15)) -> None:
        self.grace = grace
        self.groups: dict[str, dict[str, ActivityLeg]] = {}
        self.first_seen: dict[str, datetime] = {}
        self.alerted: set[str] = set()

    def add(self, leg: ActivityLeg, now: datetime, applied: Applied) -> Collected:
        action_id = leg.action_id
        if action_id in applied:
            return _after_apply(action_id, [leg], applied)
        group = self.groups.setdefault(action_id, {})
        self.first_seen.setdefault(action_id, now)
        group[leg.leg_id] = leg
        result = plan_group(group.values())
        if result.status in (Status.READY, Status.IGNORED):
            del self.groups[action_id], self.first_seen[action_id]
            self.alerted.discard(action_id)
        return result

    def overdue(self, now: datetime) -> list[ActionAlert]:
        alerts: list[ActionAlert] = []
        for action_id, seen in self.first_seen.items():
            if action_id in self.alerted or now - seen < self.grace:
                continue
            legs = tuple(self.groups[action_id].values())
            result = plan_group(legs)
            if result.status is Status.WAITING:
                self.alerted.add(action_id)
                alerts.extend(_missing_alert(legs, result).alerts)
        return alerts


def plan_batch(legs: Iterable[ActivityLeg], applied: Applied) -> list[Collected]:
    """A complete batch (e.g. a day's activities read back by REST): one result per group, in first-leg order;
    a group still missing a leg here is an alert at once."""
    groups: dict[str, list[ActivityLeg]] = {}
    for leg in legs:
        groups.setdefault(leg.action_id, []).append(leg)
    results = []
    for action_id, group in groups.items():
        if action_id in applied:
            results.append(_after_apply(action_id, group, applied))
            continue
        result = plan_group(group)
        results.append(_missing_alert(group, result) if result.status is Status.WAITING else result)
    return results


def _after_apply(action_id: str, legs: Iterable[ActivityLeg], applied: Applied) -> Collected:
    """Legs of an action already applied: repeats change nothing; a leg never seen is worth a look."""
    fresh = tuple(leg for leg in legs if leg.leg_id not in applied[action_id])
    if not fresh:
        return Collected(Status.DUPLICATE, action_id)
    return Collected(Status.ALERT, action_id, alerts=tuple(
        ActionAlert(AlertCode.LEG_AFTER_APPLY, action_id, leg.symbol,
                    f"a {leg.role} leg arrived after the action was applied", (leg.leg_id,)) for leg in fresh))


def _missing_alert(legs: Iterable[ActivityLeg], waiting: Collected) -> Collected:
    legs = tuple(legs)
    first = legs[0]
    message = f"{first.activity_type}/{first.subtype} is missing its {', '.join(sorted(waiting.missing))} leg(s)"
    return Collected(Status.ALERT, first.action_id, missing=waiting.missing, alerts=(ActionAlert(
        AlertCode.MISSING_LEG, first.action_id, first.symbol, message, tuple(leg.leg_id for leg in legs)),))


# --- what an action does to lots -----------------------------------------------------------------------------


def lower_basis(lots: Iterable[Lot], per_share: Decimal, opened_before: datetime | None = None,
                ) -> tuple[tuple[Lot, ...], Decimal]:
    """Each long lot's basis − ``per_share`` × its quantity (only lots opened before ``opened_before`` when given),
    never below zero; returns the lots and the excess (cash beyond the basis: a realized gain)."""
    out, excess = [], ZERO
    for lot in lots:
        if lot.qty > 0 and (opened_before is None or lot.opened_at < opened_before):
            cost = lot.cost - per_share * lot.qty
            if cost < 0:
                excess -= cost
                cost = ZERO
            lot = lot._replace(cost=cost)
        out.append(lot)
    return tuple(out), excess


def cash_out(lots: Iterable[Lot], per_share: Decimal) -> Decimal:
    """Close every lot at ``per_share`` cash: the realized P&L (cash received − basis, signed like the lots)."""
    return sum((per_share * lot.qty - lot.cost for lot in lots), ZERO)
