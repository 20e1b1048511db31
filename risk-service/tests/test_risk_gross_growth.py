"""The gross growth of other symbols' open orders, kept per symbol by the decider (only symbols whose book, quote or
position changed are valued again): for random approvals, fills, ends, quote and position moves, account entries and
reloads across many symbols, it always equals the sum recomputed from scratch; so does the settled gross exposure the
reference-data mirror keeps running."""

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from uuid import uuid4

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from risk_service.book import Book
from risk_service.booking import BookState, Commitment, FillSeen
from risk_service.decider import Decider, Signer
from risk_service.limits import Limits
from risk_service.pricing import reference_price
from risk_service.refdata import RefData
from tradebus_contracts import OrderSide
from tradebus_contracts.refdata import ACCOUNT_KEY, AccountRef, PositionRef, QuoteRef, position_key, quote_key
from tradebus_contracts.trading_day import trading_day_start

from .conftest import NOW, FakeTradingState

SYMBOLS = [f"S{i}" for i in range(6)]
ops = st.lists(st.tuples(st.sampled_from(["approve", "fill", "close", "quote", "position", "account", "reload"]),
                         st.integers(0, 10_000), st.integers(1, 50)), max_size=60)


def from_scratch(decider: Decider, exclude: str) -> Decimal:
    total = Decimal(0)
    for symbol in decider.book.working_symbols() - {exclude}:
        price = reference_price(decider.refdata.quote(symbol))
        if price is None:
            continue
        settled = decider.refdata.position_qty(symbol)
        growth = decider.book.projection(symbol, settled, decider.refdata.settled_as_of(symbol)).gross_growth()
        total += growth * price
    return total


@settings(max_examples=500, deadline=None)
@given(ops=ops)
def test_gross_growth_when_anything_moves_then_it_equals_the_sum_recomputed_from_scratch(ops):
    refdata = RefData()
    book = Book(timedelta(seconds=1), trading_day_start(NOW))
    decider = Decider(Limits(), refdata, book, Signer(Ed25519PrivateKey.generate(), timedelta(seconds=30)), FakeTradingState())
    orders, fills = [], []
    now = NOW
    for op, pick, qty in ops:
        now += timedelta(seconds=1)
        symbol = SYMBOLS[pick % len(SYMBOLS)]
        if op == "approve":
            side = OrderSide.BUY if pick % 3 else OrderSide.SELL
            order_id = uuid4()
            book.record_approval(order_id, symbol, side, Commitment(Decimal(qty) * 10, Decimal(qty)),
                                 now + timedelta(seconds=30), now)
            orders.append((order_id, symbol, side))
        elif op == "fill" and orders:
            order_id, symbol, side = orders[pick % len(orders)]
            if pick % 5 == 0:  # an execution of an order the book does not hold (approved before its lookback)
                order_id = uuid4()
            fill = FillSeen(f"x{len(fills)}", order_id, symbol, side, Decimal(1), Decimal("10"), now)
            book.record_fill(fill)
            fills.append(fill)
        elif op == "close" and orders:
            book.record_closed(orders[pick % len(orders)][0], Decimal(0))
        elif op == "quote":
            bid = Decimal(qty)
            refdata.apply(quote_key(symbol), QuoteRef(symbol=symbol, bid=bid, ask=bid + 1, as_of=now)
                          .model_dump_json().encode())
        elif op == "position" and qty == 25:  # closed: the gateway deletes the entry
            refdata.apply(position_key(symbol), None)
        elif op == "position":
            refdata.apply(position_key(symbol), PositionRef(symbol=symbol, qty=Decimal(qty - 25), avg_entry_price=1,
                                                            market_value=Decimal(qty - 25) * 3, as_of=now)
                          .model_dump_json().encode())
        elif op == "account":
            refdata.apply(ACCOUNT_KEY, AccountRef(buying_power=1, equity=1, cash=1, as_of=now)
                          .model_dump_json().encode())
        elif op == "reload":
            state = BookState(tuple(replace(o) for o in book._orders.values()), tuple(fills))
            book.load(state, book.day_start, now)
        exclude = SYMBOLS[qty % len(SYMBOLS)]
        assert decider._gross_growth(exclude) == from_scratch(decider, exclude)
        # and the settled gross, kept running by the mirror as position entries come, change and go
        assert refdata.gross_exposure() == sum((abs(p.market_value) for p in refdata.positions.values()), Decimal(0))
