"""The pure pieces of the shell, with plain values: coverage (one execution by two doors), the journal's codec and
fold, the rebuild plan, the FILL activity reader, the broker read, the schedule, the watch codec, the people's view."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from position_sync.activities import InvalidActivity
from position_sync.corporate_actions import ActionKind, CorporateAction
from position_sync.coverage import Coverage
from position_sync.events import drift_event, snapshot_event
from position_sync.history import fill_from_activity
from position_sync.journal import Release, decode, encode, fold, in_time_order, plan_rebuild
from position_sync.ledger import Ledger
from position_sync.reads import parse_read
from position_sync.reconcile import Adjustment, BrokerRead, DriftWatch, Figures, Policy, ReadFailed, Suspect, SyncRules
from position_sync.schedule import Schedule
from position_sync.testing import D, at, buy, on, sell
from position_sync.views import positions_reply
from position_sync.watches import decode_watch, encode_watch
from tradebus_contracts.refdata import CalendarDay, CalendarRef, ClockRef, QuoteRef

NOW = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)  # a Wednesday, 10:00 in New York


# --- coverage ------------------------------------------------------------------------------------------------


def test_coverage_when_the_same_execution_comes_under_another_id_then_it_adds_nothing():
    coverage = Coverage()
    first = buy(60, 10, order_id="b-1", cum_qty=60, execution_id="trade-uuid", final=False)

    assert coverage.claim(first) == [first]
    assert coverage.claim(replace(first, execution_id="b-1:cum:60")) == []


def test_coverage_when_a_merged_polling_fill_spans_two_executions_already_taken_then_nothing_new():
    coverage = Coverage()
    coverage.claim(buy(60, 10, order_id="b-1", cum_qty=60, execution_id="e1", final=False))
    coverage.claim(buy(40, 11, order_id="b-1", cum_qty=100, execution_id="e2"))

    assert coverage.claim(buy(100, "10.4", order_id="b-1", cum_qty=100, execution_id="b-1:cum:100")) == []


def test_coverage_when_a_merged_fill_reaches_past_what_was_taken_then_it_is_cut_to_the_new_part():
    coverage = Coverage()
    coverage.claim(buy(60, 10, order_id="b-1", cum_qty=60, execution_id="e1", final=False))

    [cut] = coverage.claim(buy(100, "10.4", order_id="b-1", cum_qty=100, execution_id="b-1:cum:100"))

    assert (cut.qty, cut.cum_qty, cut.price, cut.execution_id) == (D(40), D(100), D("10.4"), "b-1:cum:100")
    assert coverage.ranges("b-1") == [(D(0), D(100))]


def test_coverage_when_the_new_parts_lie_below_and_between_what_was_taken_then_each_part_keeps_its_own_range():
    coverage = Coverage()
    coverage.claim(buy(20, 10, order_id="b-1", cum_qty=50, execution_id="e2", final=False))  # (30, 50]

    parts = coverage.claim(buy(80, 11, order_id="b-1", cum_qty=80, execution_id="merged"))  # (0, 80]

    assert [(p.execution_id, p.qty, p.cum_qty, p.order_final) for p in parts] == [
        ("merged", D(30), D(30), False), ("merged#2", D(30), D(80), True)]


def test_coverage_when_executions_arrive_out_of_order_then_each_is_new_once():
    coverage = Coverage()
    later = buy(40, 11, order_id="b-1", cum_qty=100, execution_id="e2")
    earlier = buy(60, 10, order_id="b-1", cum_qty=60, execution_id="e1", final=False)

    assert [coverage.claim(later), coverage.claim(earlier), coverage.claim(later)] == [[later], [earlier], []]


# --- the journal -----------------------------------------------------------------------------------------------


def split(day: int, ratio: str = "4", action_id: str = "g-split") -> CorporateAction:
    return CorporateAction(action_id, ActionKind.SPLIT, "FSPLIT", "AAPL", on(day), ("l1", "l2"), new_symbol="AAPL",
                           ratio=D(ratio), broker_qty=D(100))


def row_of(item) -> dict:
    """An input as the database hands it back (the body as JSON text)."""
    row = encode(item)
    return {"kind": row.kind, "input_id": row.input_id, "at": row.at, "symbol": row.symbol, "order_id": row.order_id,
            "side": row.side, "qty": row.qty, "price": row.price, "cum_qty": row.cum_qty, "final": row.final,
            "body": row.body}


def test_journal_when_every_kind_of_input_is_encoded_and_decoded_then_it_is_the_same_value():
    adjustment = Adjustment(uuid.uuid4(), "AAPL", Figures(D(10), D(100), D(1000)), Figures(D(12), D(100), D(1200)),
                            "broker differed", uuid.uuid4(), at(4))
    inputs = [buy(10, "100.25", 2, cum_qty=10), split(3), adjustment, Release("r-1", at(4), 5.0)]

    assert [decode(row_of(item)) for item in inputs] == inputs


def test_fold_when_the_journal_is_refolded_then_the_ledger_is_the_one_that_was_built_live():
    inputs = [buy(100, 400, 2, order_id="b-1"), split(3), buy(10, 101, 4, order_id="b-2"), sell(50, 110, 4)]
    live = Ledger()
    for item in inputs:
        live.apply_fill(item) if not isinstance(item, CorporateAction) else live.apply_action(item)

    folded, kept, actions = fold(decode(row_of(item)) for item in inputs)

    assert folded.ledger.positions["AAPL"].lots.lots == live.positions["AAPL"].lots.lots
    assert folded.ledger.positions["AAPL"].lots.realized == live.positions["AAPL"].lots.realized
    assert kept == inputs and set(actions) == {"g-split"}


def test_in_time_order_when_a_split_arrives_after_later_fills_then_it_goes_before_its_effective_days_fills():
    early, late = buy(100, 400, 2, order_id="b-1"), buy(10, 101, 4, order_id="b-2")

    ordered = in_time_order([early, late, split(3)])

    assert ordered == [early, split(3), late]
    state, _, actions = fold(ordered)
    assert state.ledger.positions["AAPL"].lots.qty == D(410)


def test_plan_rebuild_when_the_journal_holds_history_repeats_a_recent_fill_and_an_old_unknown_one_then_only_news_kept():
    history = [buy(60, 10, 2, order_id="b-1", cum_qty=60, execution_id="e1", final=False),
               buy(40, 11, 2, order_id="b-1", cum_qty=100, execution_id="e2")]
    started = at(5)
    repeat = buy(100, "10.4", 2, order_id="b-1", cum_qty=100, execution_id="b-1:cum:100")
    recent = replace(buy(5, 12, 5, order_id="b-9"), executed_at=started - timedelta(minutes=1))
    unknown_old = buy(7, 9, 3, order_id="b-x")
    action = split(4)

    planned = plan_rebuild(history, [repeat, unknown_old, action, recent], started)

    assert planned == [*history, action, recent]


# --- the broker's history --------------------------------------------------------------------------------------


def fill_activity(**over) -> dict:
    raw = {"id": "20260302150000000::9f1c2e", "activity_type": "FILL", "transaction_time": "2026-03-02T15:00:00Z",
           "type": "partial_fill", "price": "187.25", "qty": "3", "side": "sell_short", "symbol": "aapl",
           "leaves_qty": "2", "order_id": "b-7", "cum_qty": "3", "order_status": "partially_filled"}
    return {**raw, **over}


def test_fill_from_activity_when_alpaca_fill_then_the_execution_id_is_the_uuid_part_and_a_short_sale_sells():
    fill = fill_from_activity(fill_activity())

    assert (fill.execution_id, fill.order_id, fill.symbol, fill.signed_qty, fill.price, fill.cum_qty,
            fill.order_final) == ("9f1c2e", "b-7", "AAPL", D(-3), D("187.25"), D(3), False)
    assert fill.executed_at == datetime(2026, 3, 2, 15, tzinfo=UTC)


@pytest.mark.parametrize("bad", [{"qty": "0"}, {"price": "abc"}, {"transaction_time": "yesterday"},
                                 {"activity_type": "DIV"}, {"id": ""}])
def test_fill_from_activity_when_unreadable_then_refused_not_guessed(bad):
    with pytest.raises(InvalidActivity):
        fill_from_activity(fill_activity(**bad))


# --- a broker read ---------------------------------------------------------------------------------------------


def reply(*positions: tuple[str, str, str]) -> bytes:
    return json.dumps({"as_of": NOW.isoformat(), "positions": [
        {"symbol": s, "qty": q, "avg_entry_price": p, "cost_basis": str(D(q) * D(p))} for s, q, p in positions],
    }).encode()


def test_parse_read_when_the_broker_lists_positions_then_a_held_symbol_it_omits_is_affirmed_flat():
    read = parse_read(reply(("AAPL", "10", "100")), {"AAPL", "MSFT"}, NOW)

    assert isinstance(read, BrokerRead)
    assert read.positions == {"AAPL": Figures(D(10), D(100), D(1000))} and read.confirmed_flat == {"MSFT"}


def test_parse_read_when_the_list_is_empty_then_nothing_is_affirmed_flat():
    read = parse_read(reply(), {"AAPL"}, NOW)

    assert isinstance(read, BrokerRead) and read.confirmed_flat == frozenset()


def test_parse_read_when_the_gateway_answers_an_error_then_the_read_failed():
    read = parse_read(b'{"error": "broker 503"}', {"AAPL"}, NOW)

    assert isinstance(read, ReadFailed) and "broker 503" in read.reason


# --- the schedule ----------------------------------------------------------------------------------------------


def clock(is_open: bool, now: datetime = NOW) -> ClockRef:
    return ClockRef(is_open=is_open, next_open=now + timedelta(hours=18), next_close=now + timedelta(hours=6),
                    timestamp=now, as_of=now)


def run(schedule: Schedule, ticks) -> list[str]:
    reasons = []
    for now, c, reconnects in ticks:
        schedule, reason = schedule.due(now, c, None, reconnects)
        if reason:
            reasons.append(reason)
            schedule = schedule.synced(now)
    return reasons


def test_schedule_when_open_then_start_then_every_interval_and_once_after_the_close():
    minutes = [NOW + timedelta(minutes=m) for m in range(0, 16)]
    ticks = [(t, clock(True, NOW), 0) for t in minutes[:11]] + [(t, clock(False, t), 0) for t in minutes[11:]]

    assert run(Schedule(timedelta(minutes=5)), ticks) == ["start", "interval", "interval", "after_close"]


def test_schedule_when_closed_or_unknown_then_only_start_and_a_reconnect():
    ticks = [(NOW + timedelta(minutes=m), clock(False) if m % 2 else None, 1 if m >= 7 else 0) for m in range(20)]

    assert run(Schedule(timedelta(minutes=5)), ticks) == ["start", "reconnect"]


def test_schedule_when_the_clock_entry_is_stale_then_the_calendar_decides():
    stale = clock(False, NOW - timedelta(days=1))  # "closed until yesterday's next open": no longer true
    calendar = CalendarRef(days=[CalendarDay(date=NOW.date(), open=NOW - timedelta(hours=1),
                                             close=NOW + timedelta(hours=5))], as_of=NOW)

    schedule, _ = Schedule(timedelta(minutes=5)).due(NOW, stale, calendar, 0)
    _, reason = schedule.synced(NOW - timedelta(minutes=5)).due(NOW, stale, calendar, 0)

    assert reason == "interval"


# --- the watch, events and the view -----------------------------------------------------------------------------


def test_watch_when_encoded_and_decoded_then_the_drift_rule_goes_on_where_it_was():
    rules = SyncRules(policy=Policy.ALERT, min_gap=timedelta(seconds=30))
    ledger = {"AAPL": Figures(D(10), D(100), D(1000))}
    first = BrokerRead(NOW.isoformat(), NOW, {"AAPL": Figures(D(12), D(100), D(1200))})
    later = replace(first, read_id=(NOW + timedelta(seconds=31)).isoformat(), as_of=NOW + timedelta(seconds=31))
    watch = DriftWatch(rules)
    watch.read(ledger, first, frozenset())

    restored = DriftWatch(rules, {s: decode_watch(encode_watch(w)) for s, w in watch.watches.items()})
    [drift] = restored.read(ledger, later, frozenset())

    assert isinstance(watch.watches["AAPL"], Suspect)
    event = drift_event(drift, Policy.ALERT)
    assert (event.first_seen_at, event.detected_at, event.qty_diff) == (NOW, later.as_of, D(2))
    assert decode_watch(encode_watch(restored.watches["AAPL"])) == restored.watches["AAPL"]


def test_snapshot_event_when_the_same_read_is_published_twice_then_the_same_event_id():
    figures = Figures(D(3), D("33.3333333333"), D(100))
    a, b = (snapshot_event("AAPL", figures, "ledger", "read-1", NOW) for _ in range(2))

    assert a.event_id == b.event_id and a.avg_entry_price == D("33.333333")


def test_positions_reply_when_quoted_with_a_prior_close_then_prices_pl_and_totals():
    ledger = Ledger()
    ledger.apply_fill(buy(10, 100, 2))
    ledger.apply_fill(buy(5, 110, 4))  # today (day 4 = NOW's New York date)
    ledger.apply_fill(sell(3, 120, 4))
    quotes = {"AAPL": QuoteRef(symbol="AAPL", bid=D(119), ask=D(121), as_of=NOW)}

    got = positions_reply(ledger, NOW, quotes, {"AAPL": D(105)}, {"AAPL"}, True, NOW, True)

    [p] = got.positions
    assert (p.qty, p.cost_basis, p.last, p.market_value, p.unrealized_pl, p.realized_pl) == (
        D(12), D(1250), D(120), D(1440), D(190), D(60))
    assert p.day_pl == D(12) * 120 - D(10) * 105 - (D(550) - D(360))  # qty × last − start × prior close − paid today
    assert p.drift and [lot.qty for lot in p.lots] == [D(7), D(5)]
    assert (got.totals.market_value, got.totals.realized_pl, got.totals.dividends) == (D(1440), D(60), D(0))
