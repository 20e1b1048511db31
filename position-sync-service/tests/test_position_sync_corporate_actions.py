"""Corporate actions from Alpaca-shaped activity legs: parsed, grouped whole, applied once, alerted otherwise."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from position_sync.activities import ActivityLeg, InvalidActivity, LegRole
from position_sync.corporate_actions import ActionCollector, ActionKind, AlertCode, Status, plan_batch, plan_group
from position_sync.ledger import ActionApplied, Ledger
from position_sync.testing import EX, D, at, buy, leg, legs, on, sell, split


def apply(ledger: Ledger, group: list[ActivityLeg]) -> ActionApplied:
    planned = plan_group(group)
    assert planned.status is Status.READY, planned
    assert planned.action is not None
    applied = ledger.apply_action(planned.action)
    assert isinstance(applied, ActionApplied), applied
    return applied


def holding(*fills) -> Ledger:
    ledger = Ledger()
    for f in fills:
        ledger.apply_fill(f)
    return ledger


def lots_of(ledger: Ledger, symbol: str = "AAPL") -> list[tuple[Decimal, Decimal]]:
    return [(lot.qty, lot.cost) for lot in ledger.positions[symbol].lots.lots]


def pairs(*qty_cost: tuple[str, str]) -> list[tuple[Decimal, Decimal]]:
    return [(D(q), D(c)) for q, c in qty_cost]


# --- reading legs --------------------------------------------------------------------------------------------


def test_from_dict_when_research_rsplit_removal_leg_then_every_field_is_read_as_decimal_and_kept():
    raw = {"event_id": "01JABCDEF", "ref_id": "r-1", "activity_type": "SPLIT", "activity_subtype": "RSPLIT",
           "qty": "-33", "price": "7", "net_amount": "0", "status": "executed", "settle_date": "2026-02-27",
           "details": {"ca_id": "ca-9", "group_id": "g-9", "symbol": "XRPT", "old_qty": "33", "new_qty": "1.65",
                       "old_rate": "20", "new_rate": "1", "ex_date": "2026-02-27"}}

    got = ActivityLeg.from_dict(raw)

    assert (got.leg_id, got.activity_type, got.subtype, got.symbol, got.qty, got.price, got.role, got.action_id,
            got.effective) == ("01JABCDEF", "SPLIT", "RSPLIT", "XRPT", D(-33), D(7), LegRole.REMOVAL, "g-9",
                               date(2026, 2, 27))
    assert got.number("new_qty") == D("1.65") and got.details["ca_id"] == "ca-9"


def test_from_dict_when_rest_v1_dividend_row_then_top_level_fields_are_read():
    raw = {"id": "20190801011955195::5f596936", "activity_type": "DIV", "activity_sub_type": "CDIV",
           "net_amount": "1.02", "per_share_amount": "0.51", "qty": "2", "symbol": "T", "date": "2019-08-01",
           "status": "executed"}

    got = ActivityLeg.from_dict(raw)

    assert (got.role, got.symbol, got.effective, got.number("per_share_amount")) == (
        LegRole.CASH, "T", date(2019, 8, 1), D("0.51"))


@pytest.mark.parametrize("raw", [
    {"activity_type": "SPLIT", "qty": "1"},
    {"event_id": "x", "activity_type": "SPLIT", "qty": "one"},
    {"event_id": "x", "activity_type": "SPLIT", "qty": "NaN"},
    {"event_id": "x", "activity_type": "SPLIT", "qty": True},
    {"event_id": "x", "activity_type": "SPLIT", "details": {"ex_date": "soon"}},
])
def test_from_dict_when_unreadable_then_invalid_activity(raw):
    with pytest.raises(InvalidActivity):
        ActivityLeg.from_dict(raw)


# --- splits --------------------------------------------------------------------------------------------------


def test_apply_when_4_for_1_forward_split_then_quantity_times_4_and_basis_preserved():
    ledger = holding(buy(10, 100), buy(5, 120))

    applied = apply(ledger, split("FSPLIT", "15", "106.67", "60", "26.67", old_rate="1", new_rate="4"))

    assert lots_of(ledger) == pairs(("40", "1000"), ("20", "600"))
    assert [lot.price for lot in ledger.positions["AAPL"].lots.lots] == [D(25), D(30)]
    assert (applied.qty_before, applied.qty_after, applied.cost_basis_before, applied.cost_basis_after) == (
        D(15), D(60), D(1600), D(1600))
    average = ledger.positions["AAPL"].average.view(date(2026, 3, 5))
    assert (average.qty, average.cost_basis) == (D(60), D(1600))
    assert applied.broker_qty_agrees is True


def test_apply_when_1_for_20_reverse_split_then_fraction_kept_and_basis_preserved():
    ledger = holding(buy(20, 7), buy(13, 7))  # the research doc's sample: -33 @ 7 → +1.65 @ 140

    applied = apply(ledger, split("RSPLIT", "33", "7", "1.65", "140", old_rate="20", new_rate="1"))

    assert lots_of(ledger) == pairs(("1", "140"), ("0.65", "91"))
    assert (applied.qty_after, applied.cost_basis_after) == (D("1.65"), D(231))
    assert applied.action.ratio == D("0.05")


def test_apply_when_split_ratio_has_no_rates_then_it_comes_from_the_legs():
    ledger = holding(buy("0.54796447", "62.32"))
    group = legs(leg("SPLIT", "FSPLIT", "-0.54796447", "62.32", symbol="AAPL", ex_date=EX),
                 leg("SPLIT", "FSPLIT", "0.821946705", "41.5467", symbol="AAPL", ex_date=EX))

    applied = apply(ledger, group)

    assert applied.action.ratio == D("1.5")
    assert applied.qty_after == D("0.821946705")
    assert applied.cost_basis_after == applied.cost_basis_before


# --- dividends and return of capital ----------------------------------------------------------------------


def test_apply_when_cash_dividend_then_income_entry_and_lots_unchanged():
    ledger = holding(buy(15, 40))
    group = legs(leg("DIV", "CDIV", "15", None, group_id=None, net_amount="3.60", symbol="AAPL", rate="0.24",
                     entitled_qty="15", cash_payout="3.60", ex_date=EX))

    applied = apply(ledger, group)

    assert applied.income is not None
    assert (applied.income.kind, applied.income.per_share, applied.income.entitled_qty, applied.income.amount) == (
        ActionKind.CASH_DIVIDEND, D("0.24"), D(15), D("3.60"))
    assert ledger.income == [applied.income]
    assert lots_of(ledger) == pairs(("15", "600"))


@pytest.mark.parametrize(("price", "rate", "cost_after", "realized"), [
    ("10", "0.5", "95.0", "0"),  # basis down by 0.50 a share
    ("0.30", "0.5", "0", "2.0"),  # more than the basis: the excess is a realized gain
])
def test_apply_when_return_of_capital_then_basis_lowered_never_below_zero(price, rate, cost_after, realized):
    ledger = holding(buy(10, price))
    group = legs(leg("DIV", "ROC", "10", None, group_id=None, symbol="AAPL", rate=rate, entitled_qty="10",
                     cash_payout="5", ex_date=EX))

    applied = apply(ledger, group)

    assert lots_of(ledger) == pairs(("10", cost_after))
    assert applied.realized == D(realized)
    assert ledger.positions["AAPL"].average.view(date(2026, 3, 5)).cost_basis == D(cost_after)


def test_apply_when_return_of_capital_is_paid_after_more_trading_then_only_lots_held_before_ex_date_are_lowered():
    ledger = holding(buy(10, 10, 2), buy(5, 12, 6))  # ex-date 5 March; the second lot came after it
    group = legs(leg("DIV", "ROC", "10", None, group_id=None, net_amount="5", symbol="AAPL", rate="0.5",
                     entitled_qty="10", cash_payout="5", ex_date=EX))

    applied = apply(ledger, group)

    assert lots_of(ledger) == pairs(("10", "95"), ("5", "60"))
    assert applied.income is not None and applied.income.amount == D(5)
    assert ledger.positions["AAPL"].average.view(on(7)).cost_basis == D(155)


# --- name changes and mergers -----------------------------------------------------------------------------


def test_apply_when_name_change_then_lots_and_realized_move_to_the_new_symbol():
    ledger = holding(buy(10, 10, symbol="OLD"), sell(4, 12, symbol="OLD"))
    details = {"old_symbol": "OLD", "new_symbol": "NEW", "position_date": EX}
    group = legs(leg("NC", "SNC", "-6", "10", **details), leg("NC", "SNC", "6", "10", **details))

    applied = apply(ledger, group)

    assert set(ledger.positions) == {"NEW"}
    assert lots_of(ledger, "NEW") == pairs(("6", "60"))
    assert ledger.positions["NEW"].lots.realized == D(8)
    assert applied.symbol_after == "NEW"


def test_apply_when_stock_merger_then_like_a_split_into_the_acquirer():
    ledger = holding(buy(2000, "0.8", symbol="TGT"))
    details = {"acquiree_symbol": "TGT", "acquirer_symbol": "BUYR", "acquiree_rate": "10", "acquirer_rate": "1",
               "effective_date": EX}
    group = legs(leg("MA", "SMA", "-2000", "0.8", **details), leg("MA", "SMA", "200", "8", **details))

    apply(ledger, group)

    assert lots_of(ledger, "BUYR") == pairs(("200", "1600"))
    assert "TGT" not in ledger.positions


def test_apply_when_cash_merger_then_lots_close_to_cash_and_gain_is_realized():
    ledger = holding(buy(10, 10, symbol="TGT"))
    details = {"acquiree_symbol": "TGT", "effective_date": EX, "cash_rate": "15"}
    group = legs(leg("MA", "CMA", "-10", "10", **details), leg("MA", "CMA", None, None, net_amount="150", **details))

    applied = apply(ledger, group)

    assert (applied.qty_after, applied.realized, ledger.positions["TGT"].lots.lots) == (0, D(50), ())
    assert ledger.positions["TGT"].average.view(date(2026, 3, 6)).qty == 0


# --- whole groups, once ---------------------------------------------------------------------------------


def test_plan_batch_when_a_leg_is_missing_then_alert_and_ledger_unchanged():
    ledger = holding(buy(10, 100))
    removal_only = split("FSPLIT", "10", "100", "40", "25", "1", "4")[:1]

    (result,) = plan_batch(removal_only, ledger.applied_actions)

    assert (result.status, result.action, result.missing) == (Status.ALERT, None, {LegRole.ALLOCATION})
    assert [a.code for a in result.alerts] == [AlertCode.MISSING_LEG]
    assert lots_of(ledger) == pairs(("10", "1000"))


def test_collector_when_leg_missing_past_grace_then_one_alert_and_a_late_leg_still_completes_it():
    collector, now = ActionCollector(grace=timedelta(minutes=15)), at(5, 9)
    removal, allocation = split("FSPLIT", "10", "100", "40", "25", "1", "4")

    waiting = collector.add(removal, now, {})
    early = collector.overdue(now + timedelta(minutes=14))
    alerts = collector.overdue(now + timedelta(minutes=15))
    again = collector.overdue(now + timedelta(minutes=30))
    done = collector.add(allocation, now + timedelta(minutes=40), {})

    assert (waiting.status, waiting.missing) == (Status.WAITING, {LegRole.ALLOCATION})
    assert (early, [a.code for a in alerts], again) == ([], [AlertCode.MISSING_LEG], [])
    assert done.status is Status.READY and done.action is not None and done.action.ratio == 4


def test_apply_when_the_feed_is_replayed_then_nothing_changes():
    ledger = holding(buy(10, 100))
    group = split("FSPLIT", "10", "100", "40", "25", "1", "4")
    apply(ledger, group)
    state = (lots_of(ledger), dict(ledger.applied_actions))

    collector = ActionCollector()
    replayed = [collector.add(one, at(6), ledger.applied_actions) for one in group]
    batch = plan_batch(group, ledger.applied_actions)
    direct = ledger.apply_action(plan_group(group).action)

    assert [r.status for r in replayed + batch] == [Status.DUPLICATE] * 3
    assert direct is None
    assert (lots_of(ledger), dict(ledger.applied_actions)) == state


def test_add_when_a_new_leg_arrives_for_an_applied_action_then_alert():
    ledger = holding(buy(10, 100))
    apply(ledger, split("FSPLIT", "10", "100", "40", "25", "1", "4"))
    stray = legs(leg("SPLIT", "FSPLIT", None, None, group_id="grp-split", net_amount="1.5", symbol="AAPL",
                     ex_date=EX))[0]

    result = ActionCollector().add(stray, at(6), ledger.applied_actions)

    assert [a.code for a in result.alerts] == [AlertCode.LEG_AFTER_APPLY]


@pytest.mark.parametrize(("group", "code"), [
    (legs(leg("SPLIT", "FSPLIT", "-10", "100", status="canceled", symbol="AAPL", ex_date=EX),
          leg("SPLIT", "FSPLIT", "40", "25", symbol="AAPL", ex_date=EX)), AlertCode.CORRECTION),
    (legs(leg("SPIN", None, "0.2", "0", symbol="SPUN", ex_date=EX)), AlertCode.UNSUPPORTED),
    (legs(leg("SPLIT", "FSPLIT", "-10", "100", symbol="AAPL", ex_date=EX),
          leg("NC", "SNC", "10", "100", symbol="AAPL", ex_date=EX)), AlertCode.INCONSISTENT_GROUP),
    (legs(leg("SPLIT", "FSPLIT", "-10", "100", symbol="AAPL", ex_date=EX),
          leg("SPLIT", "FSPLIT", "-10", "100", symbol="AAPL", ex_date=EX)), AlertCode.INCONSISTENT_GROUP),
])
def test_plan_group_when_not_applicable_automatically_then_alert_without_action(group, code):
    result = plan_group(group)

    assert (result.status, result.action, [a.code for a in result.alerts]) == (Status.ALERT, None, [code])


def test_plan_group_when_cash_leg_beside_a_split_then_split_is_ready_and_the_cash_leg_is_reported():
    group = split("FSPLIT", "10", "100", "40", "25", "1", "4") + legs(
        leg("SPLIT", "FSPLIT", None, None, group_id="grp-split", net_amount="12.5", symbol="AAPL", ex_date=EX))

    result = plan_group(group)

    assert result.status is Status.READY
    assert [a.code for a in result.alerts] == [AlertCode.EXTRA_LEG]


def test_plan_group_when_fee_then_ignored():
    assert plan_group(legs(leg("FEE", "TAF", None, None, group_id=None, net_amount="-0.01"))).status is Status.IGNORED


def test_apply_when_ex_date_fills_were_booked_first_then_alert_and_a_rebuild_in_order_applies_it():
    ex_day_fill = buy(40, 26, 5)  # 5 March, the ex-date: already post-split shares
    late = holding(buy(10, 100, 2), ex_day_fill)
    action = plan_group(split("FSPLIT", "10", "100", "40", "25", "1", "4")).action

    refused = late.apply_action(action)
    rebuilt = holding(buy(10, 100, 2))
    rebuilt.apply_action(action)
    rebuilt.apply_fill(ex_day_fill)

    assert getattr(refused, "code", None) is AlertCode.BOOKED_OUT_OF_ORDER
    assert lots_of(late) == pairs(("10", "1000"), ("40", "1040")) and not late.applied_actions
    assert lots_of(rebuilt) == pairs(("40", "1000"), ("40", "1040"))
