"""The book: which order outcomes close an open approval (a final status, a failed submission, a cancel before
submit — and nothing else: a partial fill, ``done_for_day`` or a cancel that came too late keep it open); an order
the gateway gave up on counts again once it is submitted after all (a late order, adopted); and, for any sequence of
approvals, fills, ends (failed submissions among them) and reloads, the totals it keeps as it goes equal the ones recomputed from
the facts (``tradebus_contracts.projection``), the open buys the account does not hold back yet included."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from risk_service.book import Book
from risk_service.booking import BookedOrder, BookState, Commitment, FillSeen, closes_approval
from tradebus_contracts import CancelResult, OrderSide, OrderStatusChanged, SubmissionFailed
from tradebus_contracts.projection import Projection, Working, in_settled, remaining
from tradebus_contracts.trading_day import trading_day_start


def scoped(**fields):
    order_id = uuid4()
    return {"producer": "test", "order_id": order_id, "correlation_id": str(order_id), "symbol": "AAPL", **fields}


def a_status(status: str) -> OrderStatusChanged:
    return OrderStatusChanged(**scoped(client_order_id="tb-1", broker_order_id="b-1", status=status, filled_qty="0",
                                       source="stream"))


def a_cancel(outcome: str) -> CancelResult:
    return CancelResult(**scoped(outcome=outcome, filled_qty="0", message="m"))


@pytest.mark.parametrize(("event", "closes"), [
    (a_status("filled"), True),
    (a_status("canceled"), True),
    (a_status("partially_filled"), False),
    (a_status("done_for_day"), False),
    (SubmissionFailed(**scoped(client_order_id="tb-1", message="refused")), True),
    (a_cancel("canceled_before_submit"), True),
    (a_cancel("too_late_filled"), False),
], ids=["filled", "canceled", "partially_filled", "done_for_day", "submission_failed", "canceled_before_submit",
        "too_late_filled"])
def test_closes_approval_when_the_gateway_reports_an_outcome_then_only_an_end_closes_it(event, closes):
    assert closes_approval(event) is closes


T0 = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def a_book_with_a_buy(shares: str = "10", cost: str = "1000") -> tuple[Book, UUID]:
    book = Book(timedelta(seconds=1), trading_day_start(T0))
    order_id = uuid4()
    book.record_approval(order_id, "AAPL", OrderSide.BUY, Commitment(Decimal(cost), Decimal(shares)),
                         T0 + timedelta(seconds=30), T0)
    return book, order_id


def test_book_when_a_failed_submission_is_followed_by_order_submitted_then_the_order_counts_again():
    book, order_id = a_book_with_a_buy()
    book.record_closed(order_id, Decimal(0), failed=True)  # the gateway gave up on it
    released = (book.projection("AAPL", Decimal(0), T0), book.open_total, book.daily_total)

    book.record_submitted(order_id, T0 + timedelta(seconds=40))  # the POST landed after all: adopted
    book.record_submitted(order_id, T0 + timedelta(seconds=41))  # a redelivery changes nothing

    assert released == (Projection(Decimal(0), Decimal(0), Decimal(0)), 0, Decimal(0))
    assert book.projection("AAPL", Decimal(0), T0).buying == Decimal(10)
    assert (book.open_total, book.daily_total) == (1, Decimal(1000))
    assert book.buys_not_in_account(T0) == Decimal(1000)


def test_book_when_an_order_ended_by_a_final_status_sees_its_order_submitted_late_then_it_stays_ended():
    book, order_id = a_book_with_a_buy()
    book.record_closed(order_id, Decimal(0))  # e.g. canceled, its OrderSubmitted redelivered after the end

    book.record_submitted(order_id, T0 + timedelta(seconds=1))

    assert (book.open_total, book.daily_total) == (0, Decimal(0))
    assert book.projection("AAPL", Decimal(0), T0).buying == Decimal(0)


def test_book_when_a_failed_submission_arrives_after_the_order_was_submitted_then_it_is_stale():
    book, order_id = a_book_with_a_buy()
    book.record_submitted(order_id, T0)

    book.record_closed(order_id, Decimal(0), failed=True)

    assert book.open_total == 1 and book.projection("AAPL", Decimal(0), T0).buying == Decimal(10)


# --- the book kept incrementally is the book recomputed from scratch ---------------------------------------------

SYMBOLS = ("AAPL", "MSFT")
ops = st.lists(st.tuples(st.sampled_from(["approve", "submit", "fill", "close", "fail", "undo", "reload", "wait"]),
                         st.integers(0, 1_000), st.integers(1, 300), st.sampled_from([None, "37.5", "100"])),
               max_size=50)


@settings(max_examples=200, deadline=None)
@given(ops=ops, settled_after_s=st.integers(0, 40), ttl_s=st.integers(1, 30))
def test_book_when_approvals_fills_and_ends_come_in_any_order_then_it_equals_the_book_recomputed_from_scratch(
    ops, settled_after_s, ttl_s
):
    book = Book(timedelta(seconds=1), trading_day_start(T0))
    orders: dict[UUID, BookedOrder] = {}  # the facts, as PostgreSQL holds them
    fills: list[FillSeen] = []
    now = T0
    for op, pick, qty, cost in ops:
        now += timedelta(seconds=1)
        book.advance(now)
        chosen = list(orders.values())[pick % len(orders)] if orders else None
        if op == "approve":
            order_id, symbol, side = uuid4(), SYMBOLS[pick % 2], OrderSide.BUY if pick % 3 else OrderSide.SELL
            shares = None if pick % 7 == 0 else Decimal(qty)  # a size never known now and then
            commitment = Commitment(None if cost is None else Decimal(cost), shares)
            expires_at = now + timedelta(seconds=ttl_s)
            book.record_approval(order_id, symbol, side, commitment, expires_at, now)
            orders[order_id] = BookedOrder(order_id, symbol, side, shares, commitment.cost, expires_at, today=True)
        elif op == "undo" and chosen is not None and not chosen.submitted and not chosen.seen_qty:
            book.undo_approval(chosen.order_id)  # the insert found it decided before
            del orders[chosen.order_id]
        elif op == "submit" and chosen is not None:  # late or not: a submitted order counts until it ends
            book.record_submitted(chosen.order_id, now)
            if not chosen.submitted:
                chosen.submitted, chosen.submitted_at = True, now
                if chosen.closed_by_failure:  # the gateway gave up on it, then adopted it: open again
                    chosen.closed, chosen.closed_by_failure, chosen.filled_at_close = False, False, Decimal(0)
        elif op == "fill" and chosen is not None:
            fill = FillSeen(f"ex-{pick}-{qty}", chosen.order_id, chosen.symbol, chosen.side, Decimal(qty).scaleb(-2),
                            Decimal("10.25"), now)
            if all(f.execution_id != fill.execution_id for f in fills):  # new to the store: the handler books it
                book.record_fill(fill)
                book.record_fill(fill)  # and again: an execution id in flight counts once
                fills.append(fill)
                chosen.seen_qty += fill.qty
                chosen.seen_notional += fill.qty * fill.price
        elif op == "close" and chosen is not None:
            book.record_closed(chosen.order_id, Decimal(pick))
            if not chosen.closed:
                chosen.closed, chosen.filled_at_close = True, Decimal(pick)
        elif op == "fail" and chosen is not None:  # a submission that failed: stale once the order is submitted
            book.record_closed(chosen.order_id, Decimal(0), failed=True)
            if not chosen.closed and not chosen.submitted:
                chosen.closed, chosen.closed_by_failure = True, True
        elif op == "reload":  # a restart, or the safety-net refresh: everything from the store
            book.load(BookState(tuple(replace(o) for o in orders.values()), tuple(fills)), book.day_start, now)

        settled_as_of = now - timedelta(seconds=settled_after_s)
        for order in orders.values():
            order.lapsed = not order.submitted and order.expires_at <= now
        for symbol in SYMBOLS:
            mine = [o for o in orders.values() if o.symbol == symbol]
            working = [Working(o.side, remaining(o.shares if o.open else o.filled_at_close, o.seen_qty)) for o in mine]
            working += [Working(f.side, f.qty) for f in fills
                        if f.symbol == symbol and not in_settled(f.recorded_at, settled_as_of, book.settle_margin)]
            assert book.projection(symbol, Decimal(5), settled_as_of) == Projection.of(Decimal(5), working)
            assert book.open_by_symbol[symbol] == sum(o.open for o in mine)
            assert book.daily_by_symbol.get(symbol, 0) == sum((o.committed(o.working()) for o in mine), Decimal(0))
        account_as_of = settled_as_of
        unseen = [o for o in orders.values() if o.side is OrderSide.BUY and not o.closed and not (
            o.submitted_at is not None and o.submitted_at <= account_as_of - book.settle_margin)]
        assert book.buys_not_in_account(account_as_of) == sum((o.open_cost() for o in unseen), Decimal(0))
