"""Properties of the shell's path over random inputs: every execution arriving more than once and by two doors
(its own id, and a merged polling fill under a synthetic id), shuffled, with splits among them — the ledger's quantity
is the sum of the signed executions adjusted by the splits, and re-folding the journal gives exactly the ledger built
live. FIFO relief against an independent oracle: the ``coinbasis`` package (0.1.0, a dev dependency: a Decimal FIFO
tax-lot engine; long positions only, no splits), and against the deliberately naive one-share-at-a-time
reference of ``test_position_sync_properties``."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import coinbasis
from hypothesis import given, settings
from hypothesis import strategies as st

from position_sync.corporate_actions import ActionKind, CorporateAction
from position_sync.journal import Folded, decode, encode, fold
from position_sync.ledger import Ledger
from position_sync.lots import scaled_qty
from position_sync.testing import D, fill, on

SETTINGS = settings(max_examples=120, deadline=None)
FAR = datetime(2100, 1, 1, tzinfo=UTC)

orders = st.tuples(st.just("order"), st.sampled_from(["buy", "sell"]),
                   st.lists(st.sampled_from(["1", "2", "0.5", "3.25", "7"]), min_size=1, max_size=3),
                   st.integers(min_value=1, max_value=50))
splits = st.tuples(st.just("split"), st.sampled_from([D(2), D(4), D("1.5"), D(1) / D(20), D(1) / D(3)]))


def row_of(item) -> dict:
    row = encode(item)
    return {"kind": row.kind, "input_id": row.input_id, "at": row.at, "symbol": row.symbol, "order_id": row.order_id,
            "side": row.side, "qty": row.qty, "price": row.price, "cum_qty": row.cum_qty, "final": row.final,
            "body": row.body}


@SETTINGS
@given(st.lists(st.one_of(orders, splits), max_size=25), st.randoms(use_true_random=False))
def test_shell_when_executions_repeat_by_two_doors_with_splits_then_qty_is_signed_fills_and_refold_equals_live(
        script, random):
    live, journal, expected, day = Folded(), [], Decimal(0), 2
    for n, event in enumerate(script):
        if event[0] == "split":
            day += 1
            action = CorporateAction(f"split-{n}", ActionKind.SPLIT, "FSPLIT", "AAPL", on(day), (f"l{n}",),
                                     new_symbol="AAPL", ratio=event[1])
            taken, _ = live.take(action)
            journal.append(taken)
            expected = scaled_qty(expected, event[1])
            day += 1
            continue
        _, side, quantities, price = event
        cum, executions = Decimal(0), []
        for k, qty in enumerate(quantities):
            cum += D(qty)
            executions.append(fill(side, qty, price + k, day, execution_id=f"o{n}-e{k}", order_id=f"o{n}",
                                   cum_qty=cum, final=k == len(quantities) - 1))
        prefix = random.randrange(1, len(executions) + 1)  # what the gateway's polling saw first, merged
        merged = fill(side, executions[prefix - 1].cum_qty, price, day, execution_id=f"o{n}:cum", order_id=f"o{n}",
                      cum_qty=executions[prefix - 1].cum_qty, final=prefix == len(executions))
        arrivals = [*executions, merged, *random.sample(executions, k=min(2, len(executions)))]
        random.shuffle(arrivals)
        for arrival in arrivals:
            taken, _ = live.take(arrival)
            journal += taken or []
        expected += cum if side == "buy" else -cum
    live.ledger.release_overdue(FAR, timedelta(0))
    refolded, _, _ = fold(decode(row_of(item)) for item in journal if item is not None)
    refolded.ledger.release_overdue(FAR, timedelta(0))

    assert state_of(live)[0] == expected
    assert state_of(refolded) == state_of(live)


def state_of(folded: Folded) -> tuple[Decimal, tuple, Decimal]:
    position = folded.ledger.positions.get("AAPL")
    return (position.lots.qty, position.lots.lots, position.lots.realized) if position else (Decimal(0), (), Decimal(0))


# --- FIFO relief against coinbasis ---------------------------------------------------------------------------------

long_only = st.lists(st.tuples(st.sampled_from(["buy", "sell"]), st.integers(min_value=1, max_value=9),
                               st.integers(min_value=1, max_value=40)), max_size=40)


@SETTINGS
@given(long_only)
def test_fifo_when_random_long_trades_then_each_sells_realized_and_the_lots_left_equal_coinbasis(trades):
    start = datetime(2026, 3, 2, 15, tzinfo=UTC)
    ledger, txs, held, ours = Ledger(), [], 0, []
    for n, (side, qty, price) in enumerate(trades):
        if side == "sell":
            qty = min(qty, held)
            if not qty:
                continue
        held += qty if side == "buy" else -qty
        when = start + timedelta(minutes=n)
        outcome = ledger.apply_fill(replace(fill(side, qty, price, execution_id=f"e{n}"), executed_at=when))
        if side == "sell":
            ours.append(sum((r.realized for b in outcome.booked for r in b.reliefs), Decimal(0)))
        kind = coinbasis.Buy if side == "buy" else coinbasis.Sell
        txs.append(kind(timestamp=when, wallet="w", asset="AAPL", quantity=D(qty), unit_price=D(price), fee=D(0)))

    portfolio = coinbasis.Portfolio.from_transactions(txs)
    gains = portfolio.realized_gains(coinbasis.CostBasisMethod.FIFO)
    theirs: dict[datetime, Decimal] = {}
    for gain in gains:
        theirs[gain.disposed_at] = theirs.get(gain.disposed_at, Decimal(0)) + gain.gain
    tolerance = Decimal("1e-20")  # coinbasis prices a relief per unit at 28 digits, we by share of the lot
    assert len(ours) == len(theirs) and all(abs(a - b) < tolerance for a, b in zip(ours, theirs.values()))
    left = sum((h.cost_basis for h in portfolio.holdings(coinbasis.CostBasisMethod.FIFO)), Decimal(0))
    position = ledger.positions.get("AAPL")
    assert abs((position.lots.cost if position else Decimal(0)) - left) < tolerance
