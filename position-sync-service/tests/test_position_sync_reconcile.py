"""Ledger against broker: two reads 30 s apart, no order in flight, never 'flat' from silence, policy as data."""

from datetime import timedelta

import pytest

from position_sync import reconcile
from position_sync.ledger import Ledger
from position_sync.testing import D, at, buy

T0 = at(2, 11)
OURS = {"AAPL": reconcile.Figures(D(10), D(100), D(1000))}


def held(qty: str, avg: str) -> reconcile.Figures:
    return reconcile.Figures(D(qty), D(avg), D(qty) * D(avg))


def read(n: int, seconds: float, positions: dict | None = None, flat: frozenset = frozenset()) -> reconcile.BrokerRead:
    return reconcile.BrokerRead(f"read-{n}", T0 + timedelta(seconds=seconds), positions or {}, flat)


def kinds(outcomes) -> list[type]:
    return [type(o) for o in outcomes]


def test_read_when_mismatch_persists_30_s_then_drift_on_the_second_read_only():
    watch = reconcile.DriftWatch()
    broker = {"AAPL": held("12", "100")}

    first = watch.read(OURS, read(1, 0, broker), set())
    too_soon = watch.read(OURS, read(2, 29, broker), set())
    second = watch.read(OURS, read(3, 30, broker), set())

    assert (first, too_soon) == ([], [])
    (drift,) = second
    assert isinstance(drift, reconcile.Drift)
    assert (drift.symbol, drift.qty_diff, drift.severity, drift.first_read_id, drift.second_read_id) == (
        "AAPL", D(2), reconcile.Severity.WARNING, "read-1", "read-3")
    assert (drift.ledger, drift.broker) == (OURS["AAPL"], broker["AAPL"])


def test_read_when_order_in_flight_then_no_drift_and_the_suspicion_starts_over():
    watch = reconcile.DriftWatch()
    broker = {"AAPL": held("12", "100")}

    watch.read(OURS, read(1, 0, broker), set())
    in_flight = watch.read(OURS, read(2, 30, broker), {"AAPL"})
    restarted = watch.read(OURS, read(3, 60, broker), set())
    confirmed = watch.read(OURS, read(4, 90, broker), set())

    assert (in_flight, restarted) == ([], [])
    assert kinds(confirmed) == [reconcile.Drift] and confirmed[0].first_read_id == "read-3"


@pytest.mark.parametrize("bad_read", [
    reconcile.ReadFailed("read-x", T0, "HTTP 503"),
    reconcile.BrokerRead("read-x", T0, {}),  # an empty list: not an affirmation of flat
])
def test_read_when_broker_read_failed_or_empty_then_never_flat_and_never_drift(bad_read):
    watch = reconcile.DriftWatch()

    outcomes = [watch.read(OURS, bad_read, set()) for _ in range(3)]

    assert all(kinds(o) == [reconcile.Unverified] for o in outcomes)
    assert watch.watches == {}


def test_read_when_symbol_confirmed_flat_by_a_per_symbol_read_then_critical_drift():
    watch = reconcile.DriftWatch()

    watch.read(OURS, read(1, 0, flat=frozenset({"AAPL"})), set())
    (drift,) = watch.read(OURS, read(2, 45, flat=frozenset({"AAPL"})), set())

    assert (drift.broker, drift.severity, drift.qty_diff) == (reconcile.FLAT, reconcile.Severity.CRITICAL, D(-10))


def test_read_when_broker_holds_a_symbol_the_ledger_never_saw_then_drift_against_flat():
    watch = reconcile.DriftWatch()
    broker = {"AAPL": held("10", "100"), "MSFT": held("3", "400")}

    watch.read(OURS, read(1, 0, broker), set())
    (drift,) = watch.read(OURS, read(2, 30, broker), set())

    assert (drift.symbol, drift.ledger, drift.severity) == ("MSFT", reconcile.FLAT, reconcile.Severity.CRITICAL)


@pytest.mark.parametrize(("broker_avg", "outcome"), [
    ("100.01", []),  # within 0.01 % of the broker's average
    ("100.02", [reconcile.Drift]),
])
def test_read_when_only_the_average_differs_then_tolerance_decides(broker_avg, outcome):
    watch = reconcile.DriftWatch()
    broker = {"AAPL": held("10", broker_avg)}

    watch.read(OURS, read(1, 0, broker), set())
    second = watch.read(OURS, read(2, 30, broker), set())

    assert kinds(second) == outcome
    assert all(d.severity is reconcile.Severity.INFO for d in second)


@pytest.mark.parametrize(("ours", "broker", "expected"), [
    (held("10", "100"), held("10", "101"), reconcile.Severity.INFO),
    (held("10", "100"), held("12", "100"), reconcile.Severity.WARNING),
    (held("10", "100"), held("110", "100"), reconcile.Severity.CRITICAL),  # 100 shares × 100 ≥ 10,000
    (held("10", "100"), held("-10", "100"), reconcile.Severity.CRITICAL),  # sides differ
    (reconcile.FLAT, held("1", "5"), reconcile.Severity.CRITICAL),
])
def test_drift_severity_when_sides_and_sizes_differ_then_graded(ours, broker, expected):
    watch = reconcile.DriftWatch()
    watch.read({"AAPL": ours}, read(1, 0, {"AAPL": broker}), set())

    (drift,) = watch.read({"AAPL": ours}, read(2, 30, {"AAPL": broker}), set())

    assert drift.severity is expected


def test_read_when_drift_persists_unchanged_then_reported_once_and_agreement_reconciles_it():
    watch = reconcile.DriftWatch()
    broker = {"AAPL": held("12", "100")}
    watch.read(OURS, read(1, 0, broker), set())
    (drift,) = watch.read(OURS, read(2, 30, broker), set())

    repeat = watch.read(OURS, read(3, 60, broker), set())
    changed = watch.read(OURS, read(4, 90, {"AAPL": held("13", "100")}), set())
    agreed = watch.read(OURS, read(5, 120, {"AAPL": OURS["AAPL"]}), set())

    assert repeat == [] and kinds(changed) == [reconcile.Drift]
    assert agreed == [reconcile.Reconciled("AAPL", OURS["AAPL"], "agreed", changed[0].drift_id)]
    assert watch.watches == {}


def test_read_when_policy_alert_then_nothing_but_the_drift():
    watch = reconcile.DriftWatch(reconcile.SyncRules(policy=reconcile.Policy.ALERT))
    broker = {"AAPL": held("12", "100")}
    watch.read(OURS, read(1, 0, broker), set())

    assert kinds(watch.read(OURS, read(2, 30, broker), set())) == [reconcile.Drift]


def test_read_when_policy_reduce_then_reduce_for_quantity_but_not_for_basis_drift():
    broker = {"AAPL": held("12", "100"), "MSFT": held("5", "410")}
    ours = {**OURS, "MSFT": held("5", "400")}
    watch = reconcile.DriftWatch(reconcile.SyncRules(policy=reconcile.Policy.REDUCE))
    watch.read(ours, read(1, 0, broker), set())

    outcomes = watch.read(ours, read(2, 30, broker), set())

    assert kinds(outcomes) == [reconcile.Drift, reconcile.Reduce, reconcile.Drift]
    assert outcomes[1].symbol == "AAPL" and outcomes[1].drift_id == outcomes[0].drift_id


def adopt_run() -> tuple[Ledger, list]:
    ledger = Ledger()
    ledger.apply_fill(buy(10, 100, 2))
    watch = reconcile.DriftWatch(reconcile.SyncRules(policy=reconcile.Policy.ADOPT))
    broker = {"AAPL": held("12", "101")}
    first = read(1, 0, broker)
    watch.read(ledger.sync_figures(first.as_of), first, set())
    second = read(2, 30, broker)
    return ledger, watch.read(ledger.sync_figures(second.as_of), second, set())


def test_read_when_policy_adopt_then_a_deterministic_adjustment_saying_what_and_why():
    _, outcomes = adopt_run()
    _, again = adopt_run()

    drift, adjustment = outcomes
    assert isinstance(adjustment, reconcile.Adjustment)
    assert adjustment == again[1]  # same reads, same id and content: a re-run dedupes
    assert (adjustment.symbol, adjustment.before.qty, adjustment.after.qty, adjustment.drift_id) == (
        "AAPL", D(10), D(12), drift.drift_id)
    assert "read-1" in adjustment.reason and "read-2" in adjustment.reason


def test_apply_adjustment_when_adopted_then_ledger_matches_broker_once_and_the_next_read_reconciles():
    ledger, (drift, adjustment) = adopt_run()

    assert ledger.apply_adjustment(adjustment) is True
    assert ledger.apply_adjustment(adjustment) is False
    position = ledger.positions["AAPL"]
    assert [(lot.lot_id, lot.qty, lot.cost) for lot in position.lots.lots] == [
        (position.lots.lots[0].lot_id, D(10), D(1000)), (f"adjustment:{adjustment.adjustment_id}", D(2), D(202))]
    assert position.lots.realized == 0
    figures = ledger.sync_figures(T0 + timedelta(seconds=60))
    assert figures["AAPL"] == held("12", "101")


def test_read_after_adjustment_when_broker_agrees_then_reconciled_as_adopted():
    ledger, (drift, adjustment) = adopt_run()
    ledger.apply_adjustment(adjustment)
    watch = reconcile.DriftWatch(reconcile.SyncRules(policy=reconcile.Policy.ADOPT))
    broker = {"AAPL": held("12", "101")}
    watch.read({"AAPL": held("10", "100")}, read(1, 0, broker), set())
    watch.read({"AAPL": held("10", "100")}, read(2, 30, broker), set())

    outcomes = watch.read(ledger.sync_figures(T0 + timedelta(seconds=60)), read(3, 60, broker), set())

    assert outcomes == [reconcile.Reconciled("AAPL", broker["AAPL"], "adopted_broker", drift.drift_id)]
