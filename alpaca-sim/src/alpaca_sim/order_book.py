"""Every order ever placed, with the open ones indexed so that a submit, a fill or a cancel costs the same however
many orders rest or were ever placed.

An order, once booked, tells the book of every change to its fields (``BookedOrder.__setattr__``), and the book
re-indexes it there and then, so no caller can leave the indexes stale: fills, cancels, replaces, expiry, the release
at the open, rejections, a split's adjustment, the matcher's trailing stops and triggers, a restored state alike.
What it keeps:

* the open orders in the order placed: all of them, per symbol and per (symbol, side);
* running totals: the unfilled quantity per (symbol, side); the cash held by the orders that open exposure at a fixed
  price (remaining qty × limit or stop price, or the notional of a notional order that has not executed); and, per
  symbol, the unfilled quantity of the opening orders priced at the market (no limit or stop price), which the broker
  values at the ask of the moment. The sums are exact (``Decimal`` with room to spare), so taking an order away
  leaves them as they were before it came;
* for matching, per symbol: the resting limit orders by limit price and the untriggered stops by stop price, each
  side apart, and the orders every quote acts on (market orders, triggered stops, trailing stops, ioc and fok); so
  a quote reaches only the orders it can fill or trigger, in the order they were placed;
* every order, the open ones and the closed ones by creation time, for listing.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from decimal import Context, Decimal
from typing import ClassVar

from .orders import Order

ZERO = Decimal(0)
OPENING = ("buy_to_open", "sell_to_open")
# room for any sum of the book's terms: a running total is never rounded, whatever came and went
_EXACT = Context(prec=200)
_AFTER = math.inf  # (price, _AFTER) sorts after every (price, seq, order) key of that price
# the fields an order's place in the indexes and totals depends on: a change to one re-indexes it
INDEXED_FIELDS = frozenset(
    ("status", "type", "time_in_force", "qty", "notional", "target_qty", "filled_qty")
    + ("limit_price", "stop_price", "triggered", "position_intent")
)
# what the book files an order under for good: changing one of these once it is booked is a bug
FIXED_FIELDS = frozenset({"id", "symbol", "side", "created_at"})

Key = tuple  # (price or created_at, seq, order): seq (the order of placing) is unique, so the order is never compared


class BookedOrder(Order):
    """An order in a book (``OrderBook.add`` makes an order one): every field set goes through the book, which keeps
    its indexes and running totals true. Orders are built as plain ``Order`` objects, which set fields directly."""

    _book: ClassVar[OrderBook | None] = None  # set on the instance when booked
    _seq: ClassVar[int] = -1  # its place in the order of placing

    def __setattr__(self, name: str, value: object) -> None:
        book = self._book
        if book is None:  # a copy of a booked order (dataclasses.replace) is in no book
            object.__setattr__(self, name, value)
        else:
            book.set(self, name, value)


class _Counted:
    """What one open order adds to the totals and where it is filed for matching: exactly this is taken away when
    the order changes or closes. ``_NOTHING``: what a closed order (or none) adds."""

    __slots__ = ("pending", "held", "market_qty", "slot")

    def __init__(self, order: Order | None) -> None:
        if order is None:
            self.pending, self.held, self.market_qty, self.slot = ZERO, ZERO, None, None
            return
        remaining = order.remaining_qty or ZERO
        self.pending = remaining
        self.held = ZERO
        self.market_qty: Decimal | None = None
        if order.position_intent in OPENING:
            if order.qty is None and order.target_qty is None:
                self.held = order.notional
            elif order.limit_price or order.stop_price:
                self.held = remaining * (order.limit_price or order.stop_price)
            else:
                self.market_qty = remaining
        self.slot = _slot(order)


_NOTHING = _Counted(None)


def _slot(order: Order) -> tuple[str, Decimal | None] | None:
    """Which quotes can make the matcher act on the order: None (queued until the open: none), ("every", None),
    ("limit", limit price) or ("stop", stop price)."""
    if order.status == "accepted":
        return None
    if order.time_in_force in ("ioc", "fok") or order.type in ("market", "trailing_stop"):
        return "every", None
    if order.type == "stop" and order.triggered:  # a triggered stop is a market order
        return "every", None
    if order.type == "limit" or order.triggered:  # a triggered stop limit rests as a limit order
        return "limit", order.limit_price
    return "stop", order.stop_price


class _Symbol:
    """One symbol's open orders."""

    __slots__ = ("orders", "sides", "pending", "market_qty", "market_orders", "every", "limits", "stops")

    def __init__(self) -> None:
        self.orders: dict[str, Order] = {}
        self.sides: dict[str, dict[str, Order]] = {"buy": {}, "sell": {}}
        self.pending = {"buy": ZERO, "sell": ZERO}
        self.market_qty = ZERO
        self.market_orders = 0
        self.every: dict[int, Order] = {}
        self.limits: dict[str, list[Key]] = {"buy": [], "sell": []}
        self.stops: dict[str, list[Key]] = {"buy": [], "sell": []}

    def to_match(self, bid: Decimal, ask: Decimal) -> list[tuple[int, Order]]:
        """The (seq, order) pairs a quote can make the matcher act on: a buy limit at or above the ask, a sell limit
        at or below the bid, a buy stop at or below the ask, a sell stop at or above the bid, and the ``every`` ones."""
        found = list(self.every.items())
        buys, sells = self.limits["buy"], self.limits["sell"]
        found += [(seq, o) for _, seq, o in buys[bisect_left(buys, (ask,)) :]]
        found += [(seq, o) for _, seq, o in sells[: bisect_right(sells, (bid, _AFTER))]]
        buys, sells = self.stops["buy"], self.stops["sell"]
        found += [(seq, o) for _, seq, o in buys[: bisect_right(buys, (ask, _AFTER))]]
        found += [(seq, o) for _, seq, o in sells[bisect_left(sells, (bid,)) :]]
        return found


def _remove(keys: list[Key], key: Key) -> None:
    del keys[bisect_left(keys, key[:2])]


class OrderBook(Mapping[str, Order]):
    """Every order by id (read-only as a mapping: ``add`` books a new one), with the open ones indexed."""

    def __init__(self, orders: Mapping[str, Order] | Iterable[Order] = ()) -> None:
        self._orders: dict[str, Order] = {}
        self._open: dict[str, Order] = {}
        self._counted: dict[str, _Counted] = {}
        self._symbols: dict[str, _Symbol] = {}
        self._market_symbols: dict[str, _Symbol] = {}  # symbols with opening orders priced at the market
        self._held = ZERO
        self._by_time: dict[str, list[Key]] = {"all": [], "open": [], "closed": []}
        self._changed: dict[str, Order] | None = None
        for order in orders.values() if isinstance(orders, Mapping) else orders:
            self.add(order)

    # ------------------------------------------------------------- mapping
    def __getitem__(self, order_id: str) -> Order:
        return self._orders[order_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._orders)

    def __len__(self) -> int:
        return len(self._orders)

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._orders

    def get(self, order_id: str, default: Order | None = None) -> Order | None:
        return self._orders.get(order_id, default)

    def values(self):
        return self._orders.values()

    def items(self):
        return self._orders.items()

    # ------------------------------------------------------------- changes
    def add(self, order: Order) -> None:
        """Book a new order: from now on it tells this book of its every change."""
        if order.id in self._orders:
            raise ValueError(f"order {order.id} is already booked")
        seq = len(self._orders)
        object.__setattr__(order, "__class__", BookedOrder)
        object.__setattr__(order, "_book", self)
        object.__setattr__(order, "_seq", seq)
        self._orders[order.id] = order
        key = (order.created_at, seq, order)
        insort(self._by_time["all"], key)
        if order.is_open:
            self._open[order.id] = order
            book = self._symbols.get(order.symbol) or self._symbols.setdefault(order.symbol, _Symbol())
            book.orders[order.id] = order
            book.sides[order.side][order.id] = order
            insort(self._by_time["open"], key)
            self._counted[order.id] = _NOTHING
            self._recount(order)
        else:
            insort(self._by_time["closed"], key)
        self._touched(order)

    def set(self, order: Order, name: str, value: object) -> None:
        """``BookedOrder.__setattr__``: the field is set and the order re-indexed."""
        if name in INDEXED_FIELDS:
            object.__setattr__(order, name, value)
            self._recount(order)
        elif name in FIXED_FIELDS:
            raise AttributeError(f"order {order.id}: {name} cannot change once the order is booked")
        else:
            object.__setattr__(order, name, value)
        self._touched(order)

    def _recount(self, order: Order) -> None:
        """Move what the order adds to the totals, and where it is filed, from what it was to what it is now."""
        old = self._counted.get(order.id)
        if old is None:
            return  # closed: counted nowhere
        new = _Counted(order) if order.is_open else _NOTHING
        book = self._symbols[order.symbol]
        if new.pending != old.pending:
            pending = _EXACT.subtract(book.pending[order.side], old.pending)
            book.pending[order.side] = _EXACT.add(pending, new.pending)
        if new.held != old.held:
            self._held = _EXACT.add(_EXACT.subtract(self._held, old.held), new.held)
        if new.market_qty != old.market_qty:
            self._at_market(book, order.symbol, old.market_qty, new.market_qty)
        if new.slot != old.slot:
            self._file(book, order, old.slot, _remove)
            self._file(book, order, new.slot, insort)
        if new is _NOTHING:
            del self._counted[order.id]
            self._closed(order)
        else:
            self._counted[order.id] = new

    def _at_market(self, book: _Symbol, symbol: str, old: Decimal | None, new: Decimal | None) -> None:
        if old is not None:
            book.market_qty = _EXACT.subtract(book.market_qty, old)
            book.market_orders -= 1
        if new is not None:
            book.market_qty = _EXACT.add(book.market_qty, new)
            book.market_orders += 1
        if book.market_orders:
            self._market_symbols[symbol] = book
        else:
            book.market_qty = ZERO
            self._market_symbols.pop(symbol, None)

    @staticmethod
    def _file(book: _Symbol, order: Order, slot: tuple[str, Decimal | None] | None, action) -> None:
        if slot is None:
            return
        kind, price = slot
        if kind == "every":
            if action is insort:
                book.every[order._seq] = order
            else:
                del book.every[order._seq]
            return
        action((book.limits if kind == "limit" else book.stops)[order.side], (price, order._seq, order))

    def _closed(self, order: Order) -> None:
        del self._open[order.id]
        book = self._symbols[order.symbol]
        del book.orders[order.id]
        del book.sides[order.side][order.id]
        if not book.orders:
            del self._symbols[order.symbol]
        key = (order.created_at, order._seq, order)
        _remove(self._by_time["open"], key)
        insort(self._by_time["closed"], key)

    def _touched(self, order: Order) -> None:
        if self._changed is not None:
            self._changed[order.id] = order

    def track_changes(self) -> None:
        """From now on remember which orders change (added or any field set), for ``take_changed``."""
        self._changed = {}

    def take_changed(self) -> list[Order]:
        """The orders added or changed since the last call (or ``track_changes``), in the order first touched."""
        changed = list(self._changed.values()) if self._changed else []
        if self._changed is not None:
            self._changed = {}
        return changed

    # ------------------------------------------------------------- queries
    def open(self, symbol: str | None = None, side: str | None = None) -> list[Order]:
        """The open orders (of a symbol, of one side of it), in the order they were placed."""
        if symbol is None:
            return list(self._open.values())
        book = self._symbols.get(symbol)
        if book is None:
            return []
        return list((book.orders if side is None else book.sides[side]).values())

    def symbols(self) -> list[str]:
        """The symbols with an open order, sorted."""
        return sorted(self._symbols)

    def pending_qty(self, symbol: str, side: str, exclude: Order | None = None) -> Decimal:
        """Unfilled quantity of the open orders on one side of a symbol (``exclude``'s left out)."""
        book = self._symbols.get(symbol)
        if book is None:
            return ZERO
        counted = self._counted_of(exclude)
        if counted is None or exclude.symbol != symbol or exclude.side != side:
            return book.pending[side]
        return _EXACT.subtract(book.pending[side], counted.pending)

    def held_at_fixed_prices(self, exclude: Order | None = None) -> Decimal:
        """Cash held by the open orders that open exposure at a fixed price (``exclude``'s left out)."""
        counted = self._counted_of(exclude)
        return self._held if counted is None else _EXACT.subtract(self._held, counted.held)

    def held_at_market(self, exclude: Order | None = None) -> list[tuple[str, Decimal]]:
        """Per symbol, the unfilled quantity of the open orders that open exposure at the market (``exclude``'s
        left out): what they hold is that quantity at the price of the moment."""
        counted = self._counted_of(exclude)
        found = []
        for symbol, book in self._market_symbols.items():
            qty = book.market_qty
            if counted is not None and counted.market_qty is not None and exclude.symbol == symbol:
                qty = _EXACT.subtract(qty, counted.market_qty)
            found.append((symbol, qty))
        return found

    def _counted_of(self, order: Order | None) -> _Counted | None:
        if order is None or self._orders.get(order.id) is not order:
            return None
        return self._counted.get(order.id)

    def to_match(self, symbol: str, bid: Decimal, ask: Decimal) -> list[Order]:
        """The open orders of ``symbol`` that a quote of ``bid``/``ask`` can make the matcher act on (fill, trigger,
        trail or end), in the order placed. Every other open order of the symbol would do nothing at this quote."""
        book = self._symbols.get(symbol)
        if book is None:
            return []
        return [order for _, order in sorted(book.to_match(bid, ask), key=lambda pair: pair[0])]

    def by_time(self, status: str, after: datetime | None, until: datetime | None, direction: str) -> Iterator[Order]:
        """Orders of ``status`` (open, closed, all) created after ``after`` and at or before ``until``, by creation
        time (``direction`` asc or desc); orders created at the same moment come in the order placed either way."""
        keys = self._by_time[status]
        start = bisect_right(keys, (after, _AFTER)) if after else 0
        stop = bisect_right(keys, (until, _AFTER)) if until else len(keys)
        if direction == "asc":
            for i in range(start, stop):
                yield keys[i][2]
            return
        while stop > start:
            first = stop - 1
            while first > start and keys[first - 1][0] == keys[stop - 1][0]:
                first -= 1
            for i in range(first, stop):
                yield keys[i][2]
            stop = first
