"""Unit (property): the order book's indexes and running totals are what a scan of every order says, and the broker
gives exactly the answers it gave when it scanned every order on every submit, fill, cancel and tick.

The oracle is the scanning code the indexes replaced, kept here: ``ScanningBroker`` answers buying power, held
quantities, open orders, matching and listing from a scan of every order ever placed. Any sequence of submits,
cancels, replaces, quote moves, ticks, clock changes, liquidity caps, splits, dividends, position closes and restarts
from a saved state is run on both (same clock, same ids): every answer, refusal and trade update must be equal, and
after every step the book's totals must equal a from-scratch recomputation.
"""

from __future__ import annotations

import dataclasses
import json
import os
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from itertools import count
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alpaca_sim.broker import MARKET_COLLAR, Broker
from alpaca_sim.errors import BrokerError
from alpaca_sim.market import MarketClock
from alpaca_sim.matching import next_execution
from alpaca_sim.order_book import OrderBook
from alpaca_sim.orders import Order
from alpaca_sim.persistence import StateFile, load, restore, snapshot
from alpaca_sim.portfolio import account_json, close_all_positions, corporate_action, positions_json

ZERO = Decimal(0)
SYMBOLS = ["AAPL", "F", "SIRI"]  # pinned near $10
WALKING = "KO"  # left to the seeded walk: its quote moves on every tick
PRICES = ["9.5", "9.98", "9.99", "10", "10.01", "10.02", "10.03", "10.5", "11"]  # limit, stop and bid levels
MOMENT = datetime(2026, 1, 5, 15, 0, tzinfo=timezone.utc)


# ------------------------------------------------------------------------------------------------ the oracle
class ScanningBook(OrderBook):
    """Open orders from a scan of every order, as the broker found them before the indexes."""

    def open(self, symbol: str | None = None, side: str | None = None) -> list[Order]:
        return [o for o in self.values() if o.is_open and symbol in (None, o.symbol) and side in (None, o.side)]


class ScanningBroker(Broker):
    """The broker before the order book's indexes: every answer from a scan of every order ever placed."""

    @property
    def orders(self) -> OrderBook:
        return self._orders

    @orders.setter
    def orders(self, orders) -> None:
        self._orders = ScanningBook(orders)

    def pending_qty(self, symbol: str, side: str, exclude: Order | None = None) -> Decimal:
        return sum((o.remaining_qty or ZERO for o in scanned_open(self, symbol, side) if o is not exclude), ZERO)

    def _held(self, exclude: Order | None = None) -> Decimal:
        held = ZERO
        for order in scanned_open(self):
            if order is exclude or order.position_intent not in ("buy_to_open", "sell_to_open"):
                continue
            if order.qty is None and order.target_qty is None:
                held += order.notional
                continue
            quote = self.feed.quote(order.symbol)
            price = order.limit_price or order.stop_price or quote.ask * MARKET_COLLAR
            held += (order.remaining_qty or ZERO) * price
        return held

    def match_all(self) -> None:
        for symbol in sorted({o.symbol for o in scanned_open(self)}):
            self.match_symbol(symbol)

    def match_symbol(self, symbol: str) -> None:
        quote = self.feed.quote(symbol)
        for order in scanned_open(self, symbol):  # every open order of the symbol, whether the quote reaches it or not
            self._match(order, quote)

    def list_orders(self, status="open", limit=50, after=None, until=None, direction="desc", symbols=None, side=None):
        chosen = []
        for order in self.orders.values():
            if status == "open" and not order.is_open or status == "closed" and order.is_open:
                continue
            if after and order.created_at <= after or until and order.created_at > until:
                continue
            if symbols and order.symbol not in symbols or side and order.side != side:
                continue
            chosen.append(order)
        chosen.sort(key=lambda o: o.created_at, reverse=direction == "desc")
        return chosen[:limit]


def scanned_held(broker: Broker, exclude: Order | None = None) -> Decimal:
    return ScanningBroker._held(broker, exclude)


def scanned_pending(broker: Broker, symbol: str, side: str, exclude: Order | None = None) -> Decimal:
    return ScanningBroker.pending_qty(broker, symbol, side, exclude)


def scanned_open(broker: Broker, symbol: str | None = None, side: str | None = None) -> list[Order]:
    return ScanningBook.open(broker.orders, symbol, side)


def acts_on(broker: Broker, order: Order) -> bool:
    """Whether the matcher, given the order at the symbol's quote of the moment, would do anything with it: fill it,
    trigger or trail it, size it or end it. Tried on an unbooked copy, so nothing changes."""
    if order.status == "accepted":
        return False
    if order.time_in_force in ("ioc", "fok"):
        return True
    trial = dataclasses.replace(order)
    execution = next_execution(trial, broker.feed.quote(order.symbol), broker.liquidity.get(order.symbol))
    return execution is not None or trial != order


def assert_book_equals_a_scan(broker: Broker) -> None:
    book = broker.orders
    everyone = scanned_open(broker)
    assert book.open() == everyone
    assert book.symbols() == sorted({o.symbol for o in everyone})
    assert broker._held() == scanned_held(broker)
    for order in everyone:
        assert broker._held(exclude=order) == scanned_held(broker, order)
    for symbol in {*SYMBOLS, WALKING, *(o.symbol for o in everyone)}:
        for side in ("buy", "sell"):
            assert book.open(symbol, side) == scanned_open(broker, symbol, side)
            assert broker.pending_qty(symbol, side) == scanned_pending(broker, symbol, side)
            for order in everyone:
                assert broker.pending_qty(symbol, side, order) == scanned_pending(broker, symbol, side, order)
        quote = broker.feed.quote(symbol)
        reached = book.to_match(symbol, quote.bid, quote.ask)
        assert reached == [o for o in scanned_open(broker, symbol) if o in reached]  # in the order placed
        assert [o for o in scanned_open(broker, symbol) if acts_on(broker, o)] == [
            o for o in reached if acts_on(broker, o)
        ]
    moments = sorted({o.created_at for o in book.values()})
    bounds = [(None, None), *((moment, None) for moment in moments[:3]), *((None, moment) for moment in moments[-3:])]
    for status in ("open", "closed", "all"):
        for direction in ("asc", "desc"):
            for after, until in bounds:
                listed = ScanningBroker.list_orders(broker, status, 10_000, after, until, direction)
                assert list(book.by_time(status, after, until, direction)) == listed


# ------------------------------------------------------------------------------------------------ the requests
@st.composite
def order_requests(draw) -> dict:
    """Orders of every type and time in force around the quotes (so they rest, cross at the edge, trigger, fill)."""
    order_type = draw(st.sampled_from(["market", "limit", "limit", "stop", "stop_limit", "trailing_stop"]))
    body = {
        "symbol": draw(st.sampled_from([*SYMBOLS, WALKING])),
        "side": draw(st.sampled_from(["buy", "sell"])),
        "type": order_type,
        "time_in_force": draw(st.sampled_from(["day", "gtc", "gtc", "ioc", "fok", "opg"])),
    }
    if order_type == "market" and body["time_in_force"] == "day" and draw(st.integers(0, 3)) == 0:
        body["notional"] = draw(st.sampled_from(["12.5", "40"]))
    else:
        body["qty"] = draw(st.sampled_from(["1", "2", "5", "0.5", "400"]))
    if order_type in ("limit", "stop_limit"):
        body["limit_price"] = draw(st.sampled_from(PRICES))
    if order_type in ("stop", "stop_limit"):
        body["stop_price"] = draw(st.sampled_from(PRICES))
    if order_type == "trailing_stop":
        body["trail_price"] = draw(st.sampled_from(["0.01", "0.5"]))
    if order_type == "limit" and body["time_in_force"] == "day" and draw(st.booleans()):
        body["extended_hours"] = True
    return body


submits = st.tuples(st.just("submit"), order_requests())
moves = st.one_of(
    st.tuples(st.just("quote"), st.sampled_from(SYMBOLS), st.sampled_from(PRICES), st.sampled_from(["0.01", "0.03"])),
    st.tuples(st.just("cancel"), st.integers(0, 50), st.booleans()),
    st.tuples(
        st.just("replace"), st.integers(0, 50), st.sampled_from([None, "1", "3"]), st.sampled_from([None, *PRICES])
    ),
    st.tuples(st.just("tick")),
    st.tuples(st.just("clock"), st.booleans()),
)
rare = st.one_of(
    st.tuples(st.just("liquidity"), st.sampled_from(SYMBOLS), st.sampled_from([None, "1", "0.5"])),
    st.tuples(st.just("complete_cancels")),
    st.tuples(st.just("cancel_all")),
    st.tuples(st.just("close_all"), st.booleans()),
    st.tuples(st.just("split"), st.sampled_from(SYMBOLS), st.sampled_from([2, "0.5"])),
    st.tuples(st.just("dividend"), st.sampled_from(SYMBOLS)),
    st.tuples(st.just("name_change"), st.sampled_from([*SYMBOLS, WALKING])),
    st.tuples(
        st.just("list"),
        st.sampled_from(["open", "closed", "all"]),
        st.sampled_from(["asc", "desc"]),
        st.integers(1, 6),
        st.sampled_from([None, ["AAPL"], ["F", "KO"]]),
        st.integers(-3, 30),
        st.integers(-10, 30),
    ),
    st.tuples(st.just("restart")),
)
# half submits, a third moves, the rest rare (a nested one_of would be flattened into one even choice)
steps = st.lists(
    st.integers(0, 5).flatmap(lambda n: submits if n < 3 else moves if n < 5 else rare), min_size=10, max_size=60
)


def new_broker(kind: type[Broker], moment: list[datetime]) -> Broker:
    broker = kind(clock=MarketClock(now=lambda: moment[0]), seed=5)
    broker.updates = []
    broker.listeners.append(broker.updates.append)
    return broker


def perform(broker: Broker, step: tuple, moment: list[datetime]) -> tuple[Broker, Any]:
    """One step; returns the broker (a new one after a restart) and what it answered."""
    kind, *args = step
    ids = list(broker.orders)
    if kind == "submit":
        order = broker.submit(args[0])
        broker.match_symbol(order.symbol)
        return broker, order.to_json()
    if kind == "quote":
        symbol, bid, spread = args
        return broker, broker.set_quote(symbol, bid, str(Decimal(bid) + Decimal(spread)))
    if kind == "cancel" and ids:
        return broker, broker.cancel(ids[args[0] % len(ids)], complete=args[1]).to_json()
    if kind == "replace" and ids:
        index, qty, price = args
        chosen = [o.id for o in broker.orders.values() if o.is_open] or ids  # mostly open ones: replaceable
        old = broker.orders[chosen[index % len(chosen)]]
        field = {"limit": "limit_price", "stop_limit": "limit_price", "stop": "stop_price", "trailing_stop": "trail"}
        payload = {"qty": qty, field.get(old.type, "limit_price"): price}
        order = broker.replace(old.id, {k: v for k, v in payload.items() if v is not None} or {"qty": "2"})
        broker.match_symbol(order.symbol)
        return broker, order.to_json()
    if kind == "tick":
        broker.tick()
    elif kind == "clock":
        broker.set_market_open(args[0])
    elif kind == "liquidity":
        return broker, broker.set_liquidity(*args)
    elif kind == "complete_cancels":
        broker.complete_pending_cancels()
    elif kind == "cancel_all":
        return broker, broker.cancel_all(complete=False)
    elif kind == "close_all":
        return broker, close_all_positions(broker, cancel_orders=args[0])
    elif kind == "split":
        return broker, corporate_action(broker, {"type": "split", "symbol": args[0], "new_rate": args[1]})
    elif kind == "dividend":
        return broker, corporate_action(broker, {"type": "dividend", "symbol": args[0], "rate": "0.1"})
    elif kind == "name_change":
        return broker, corporate_action(broker, {"type": "name_change", "symbol": args[0], "new_symbol": args[0] + "N"})
    elif kind == "list":
        status, direction, limit, symbols, after_s, until_s = args
        after = MOMENT + timedelta(seconds=after_s) if after_s >= 0 else None
        until = MOMENT + timedelta(seconds=until_s) if until_s >= 0 else None
        listed = broker.list_orders(status, limit, after, until, direction, symbols)
        return broker, [o.id for o in listed]
    elif kind == "restart":
        state = json.loads(json.dumps(snapshot(broker)))
        broker = new_broker(type(broker), moment)
        restore(broker, state)
    return broker, None


def run(kind: type[Broker], ops: list[tuple], check=None) -> list[Any]:
    """Every answer, refusal, trade update and account view of ``ops`` on a fresh broker of ``kind``, with ids
    from a counter and a clock that moves a second every other step (so two runs are comparable, and orders are
    created at the same moment too)."""
    ids = count(1)
    moment = [MOMENT]
    seen: list[Any] = []
    with mock.patch("uuid.uuid4", lambda: uuid.UUID(int=next(ids))):
        broker = new_broker(kind, moment)
        for symbol in SYMBOLS:
            broker.set_quote(symbol, "10.00", "10.02")
        for number, step in enumerate(ops):
            moment[0] += timedelta(seconds=number % 2)
            updates = len(broker.updates)
            try:
                broker, answer = perform(broker, step, moment)
            except BrokerError as error:
                answer = (error.status, error.body())
            seen.append((step, answer, broker.updates[updates:], account_json(broker), positions_json(broker)))
            if check is not None:
                check(broker)
    return seen


@settings(
    max_examples=int(os.environ.get("SIM_PROPERTY_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(ops=steps)
def test_order_book_when_any_sequence_then_totals_equal_a_scan_and_answers_equal_the_scanning_broker(ops):
    indexed = run(Broker, ops, check=assert_book_equals_a_scan)
    scanned = run(ScanningBroker, ops)

    for ours, theirs in zip(indexed, scanned, strict=True):
        assert ours == theirs


# ------------------------------------------------------------------------------------------------ the state file
@settings(
    max_examples=int(os.environ.get("SIM_PROPERTY_EXAMPLES", "200")) // 4,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
@given(ops=steps)
def test_state_file_when_saved_after_every_step_then_it_reads_back_as_the_state(ops, tmp_path_factory):
    path = tmp_path_factory.mktemp("state") / "state.json"
    state = StateFile(path)

    def saved_and_read_back(broker: Broker) -> None:
        state.save(broker)
        again = Broker(clock=broker.clock, seed=5)
        assert load(again, path)
        assert snapshot(again) == json.loads(json.dumps(snapshot(broker)))
        assert_book_equals_a_scan(again)

    run(Broker, ops, check=saved_and_read_back)


def saved_then_one_order(path: Path) -> tuple[StateFile, Broker, Order]:
    """A state file saved once (empty), and its broker with one resting order placed since."""
    state = StateFile(path)
    broker = Broker(seed=5)
    state.save(broker)
    order = broker.submit(
        {"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit", "limit_price": "5", "time_in_force": "gtc"}
    )
    return state, broker, order


def test_state_file_when_its_last_line_is_cut_short_then_read_up_to_it(tmp_path: Path):
    path = tmp_path / "state.json"
    state, broker, order = saved_then_one_order(path)
    state.save(broker)
    broker.cancel(order.id)
    state.save(broker)
    path.write_text(path.read_text()[:-20])  # the cancel's line, cut short by a crash

    again = Broker(seed=5)
    assert load(again, path)

    assert again.orders[order.id].status == "new" and again.orders.open() == [again.orders[order.id]]


def test_state_file_when_a_save_fails_half_way_then_the_next_one_rewrites_it(tmp_path: Path, monkeypatch):
    path = tmp_path / "state.json"
    state, broker, order = saved_then_one_order(path)

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError):
        state.save(broker)
    monkeypatch.undo()
    with path.open("a") as handle:
        handle.write('{"orders": [{"id": ')  # what a write cut short leaves behind
    broker.cancel(order.id)

    state.save(broker)

    again = Broker(seed=5)
    assert load(again, path)
    assert again.orders[order.id].status == "canceled"
