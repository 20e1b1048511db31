"""Properties of the ledger over random fills and splits, checked against references written differently.

The FIFO reference expands every fill into single shares (exact ``Fraction`` prices) and closes them one by one;
the ledger keeps aggregated Decimal lots. Agreement of the two is the evidence that relief order and realized P&L
are right.
"""

from collections import deque
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from position_sync.corporate_actions import ActionKind, CorporateAction
from position_sync.ledger import Ledger
from position_sync.lots import FifoLots, scaled_qty
from position_sync.testing import D, at, buy, fill, on, sell

SETTINGS = settings(max_examples=150, deadline=None)

sides = st.sampled_from(["buy", "sell"])
whole_qty = st.integers(min_value=1, max_value=6)
fractional_qty = st.sampled_from(["0.5", "1", "1.25", "2", "3.333", "7", "0.000000001"])
whole_price = st.integers(min_value=1, max_value=20)
ratios = st.sampled_from([Decimal(2), Decimal(3), Decimal(4), Decimal("1.5"), Decimal(1) / Decimal(2),
                          Decimal(1) / Decimal(3), Decimal(1) / Decimal(20), Decimal(1) / Decimal(7)])


def split_action(n: int, ratio: Decimal, day: int) -> CorporateAction:
    return CorporateAction(f"split-{n}", ActionKind.SPLIT, "FSPLIT", "AAPL", on(day), (f"leg-{n}",),
                           ratio=ratio)


# --- quantity: the sum of signed fills, adjusted by splits ---------------------------------------------------

events = st.lists(st.one_of(st.tuples(st.just("fill"), sides, fractional_qty, whole_price),
                            st.tuples(st.just("split"), ratios)), max_size=40)


@SETTINGS
@given(events)
def test_ledger_when_random_fills_and_splits_then_quantity_is_signed_fills_adjusted_by_splits(script):
    ledger, expected, day = Ledger(), Decimal(0), 2
    for n, event in enumerate(script):
        if event[0] == "fill":
            _, side, qty, price = event
            ledger.apply_fill(fill(side, qty, price, day))
            expected += D(qty) if side == "buy" else -D(qty)
        else:
            day += 1  # a split takes effect at the start of a new day, before that day's fills
            ledger.apply_action(split_action(n, event[1], day))
            expected = scaled_qty(expected, event[1])
            day += 1

    position = ledger.positions.get("AAPL")
    lots_qty = position.lots.qty if position else Decimal(0)
    assert lots_qty == expected
    if position:
        assert sum((lot.qty for lot in position.lots.lots), Decimal(0)) == expected
        assert all((lot.qty > 0) == (expected > 0) for lot in position.lots.lots)
        assert position.average.view(on(day)).qty == expected  # intraday, weighted
        assert position.average.view(on(day + 1)).qty == expected  # next day, compressed


# --- FIFO relief against a one-share-at-a-time reference ---------------------------------------------------


def reference_fifo(script: list[tuple]) -> tuple[list[tuple[str, int, Fraction]], Fraction]:
    """Shares one by one: (lot id, +1/-1, price). A share closes the oldest share of the other sign."""
    shares: deque[tuple[str, int, Fraction]] = deque()
    realized = Fraction(0)
    for n, event in enumerate(script):
        if event[0] == "split":
            k = event[1]
            shares = deque(s for share in shares for s in [(share[0], share[1], share[2] / k)] * k)
            continue
        _, side, qty, price = event
        sign = 1 if side == "buy" else -1
        for _ in range(qty):
            if shares and shares[0][1] != sign:
                lot_id, held_sign, opened = shares.popleft()
                realized += (Fraction(price) - opened) * held_sign
            else:
                shares.append((f"ex-{n}", sign, Fraction(price)))
    lots: list[tuple[str, int, Fraction]] = []
    for lot_id, sign, price in shares:
        if lots and lots[-1][0] == lot_id:
            lots[-1] = (lot_id, lots[-1][1] + sign, lots[-1][2] + sign * price)
        else:
            lots.append((lot_id, sign, sign * price))
    return lots, realized


def ledger_fifo(script: list[tuple]) -> tuple[list[tuple[str, int, Fraction]], Fraction]:
    ledger, day = Ledger(), 2
    for n, event in enumerate(script):
        if event[0] == "split":
            day += 1
            ledger.apply_action(split_action(n, Decimal(event[1]), day))
            day += 1
            continue
        _, side, qty, price = event
        make = buy if side == "buy" else sell
        ledger.apply_fill(make(qty, price, day, execution_id=f"ex-{n}"))
    position = ledger.positions.get("AAPL")
    if position is None:
        return [], Fraction(0)
    lots = [(lot.lot_id, int(lot.qty), Fraction(lot.cost)) for lot in position.lots.lots]
    return lots, Fraction(position.lots.realized)


whole_fills = st.tuples(st.just("fill"), sides, whole_qty, whole_price)


@SETTINGS
@given(st.lists(whole_fills, max_size=40))
def test_fifo_when_random_fills_then_lots_and_realized_equal_the_one_share_reference_exactly(script):
    assert ledger_fifo(script) == reference_fifo(script)


@SETTINGS
@given(st.lists(st.tuples(sides, fractional_qty, whole_price), max_size=40))
def test_lots_when_booked_with_or_without_the_price_then_lots_and_totals_are_the_same(trades):
    """Without a price (a merger's moved lots, Alpaca's day lots) each closed part is a share of the value: the
    same numbers, as long as the per-share price terminates."""
    priced, shared = FifoLots(), FifoLots()
    for n, (side, qty, price) in enumerate(trades):
        q, p = D(qty) if side == "buy" else -D(qty), D(price)
        assert priced.book(f"e{n}", at(2), q, q * p, p) == shared.book(f"e{n}", at(2), q, q * p)

    assert (priced.lots, priced.qty, priced.cost, priced.realized) == (shared.lots, shared.qty, shared.cost,
                                                                       shared.realized)
    assert priced.qty == sum((lot.qty for lot in priced.lots), Decimal(0))
    assert priced.cost == sum((lot.cost for lot in priced.lots), Decimal(0))


@st.composite
def fills_with_a_few_splits(draw: st.DrawFn) -> list[tuple]:
    """Up to three forward splits among the fills: the reference multiplies its shares at each one."""
    script = draw(st.lists(whole_fills, max_size=30))
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        where, ratio = draw(st.integers(min_value=0, max_value=len(script))), draw(st.sampled_from([2, 3, 4]))
        script.insert(where, ("split", ratio))
    return script


@SETTINGS
@given(fills_with_a_few_splits())
def test_fifo_when_random_fills_and_forward_splits_then_equal_to_the_reference_within_rounding(script):
    (lots, realized), (want_lots, want_realized) = ledger_fifo(script), reference_fifo(script)

    tolerance = Fraction(1, 10**18)  # a relief of 1/3 of a lot's cost rounds at 28 digits
    assert [(i, q) for i, q, _ in lots] == [(i, q) for i, q, _ in want_lots]
    assert all(abs(cost - want) < tolerance for (_, _, cost), (_, _, want) in zip(lots, want_lots))
    assert abs(realized - want_realized) < tolerance


# --- arrival order ---------------------------------------------------------------------------------------------


orders = st.lists(st.tuples(sides, st.lists(whole_qty, min_size=1, max_size=4), whole_price), min_size=1,
                  max_size=8)


@SETTINGS
@given(orders, st.randoms(use_true_random=False))
def test_ledger_when_an_orders_executions_arrive_shuffled_and_repeated_then_state_equals_in_order(script, random):
    in_order, shuffled = Ledger(), Ledger()
    for n, (side, quantities, price) in enumerate(script):
        cum, executions = 0, []
        for k, qty in enumerate(quantities):
            cum += qty
            executions.append(fill(side, qty, price + k, execution_id=f"o{n}-e{k}", order_id=f"o{n}", cum_qty=cum,
                                   final=k == len(quantities) - 1))
        for execution in executions:
            in_order.apply_fill(execution)
        arrivals = executions + random.sample(executions, k=min(2, len(executions)))  # with repeats
        random.shuffle(arrivals)
        for execution in arrivals:
            shuffled.apply_fill(execution)

    a, b = in_order.positions["AAPL"], shuffled.positions["AAPL"]
    assert (a.lots.lots, a.lots.realized) == (b.lots.lots, b.lots.realized)
    assert shuffled.sequencer.held == {} and shuffled.sequencer.booked_cum == {}


@SETTINGS
@given(st.lists(st.tuples(sides, whole_qty, whole_price), max_size=6),
       st.lists(st.tuples(sides, whole_qty, whole_price), min_size=1, max_size=8), st.randoms(use_true_random=False))
def test_compressed_fifo_when_a_days_executions_are_reordered_then_the_next_days_figures_are_the_same(
        earlier, today, random):
    def run(day_two: list) -> tuple[Decimal, Decimal]:
        ledger = Ledger()
        for n, (side, qty, price) in enumerate(earlier):
            ledger.apply_fill(fill(side, qty, price, 2, execution_id=f"a{n}"))
        for n, (side, qty, price) in day_two:
            ledger.apply_fill(fill(side, qty, price, 3, execution_id=f"b{n}"))
        view = ledger.positions["AAPL"].average.view(on(4))
        return view.qty, view.cost_basis

    numbered = list(enumerate(today))
    reordered = random.sample(numbered, k=len(numbered))

    assert run(numbered) == run(reordered)
