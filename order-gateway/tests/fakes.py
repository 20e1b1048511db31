"""In-memory stand-ins for the gateway's edges: a scriptable broker and a controllable clock.

`FakeBroker` has the async interface of `order_gateway.broker.Broker` (a test checks they do not drift) and
answers in Alpaca's JSON shape, so the gateway's own parsing (`BrokerOrder.of`) runs on what it returns. Script it:

    broker.script("submit", Fault(BrokerUnavailable("504"), after_effect=True))  # stores the order, then fails
    broker.script("order_by_client_id", BrokerUnavailable("timeout"))            # the next lookup fails
    broker.fill(client_order_id, qty, price)                                     # an execution at the broker

Unscripted calls behave like a healthy broker: a second order with the same client_order_id is a 422, a lookup of
an unknown client_order_id is None (the adapter's 404), a cancel of a final order is a 422.
"""

from __future__ import annotations

import itertools
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from order_gateway.broker import BrokerError, BrokerRejected
from tradebus_contracts import OrderFields, OrderStatus

START = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)


class FakeClock:
    """Time stands still until someone sleeps; every sleep is kept, so a test can say how long the code waited."""

    def __init__(self, now: datetime = START) -> None:
        self.moment = now
        self.slept: list[float] = []

    def now(self) -> datetime:
        return self.moment

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.moment += timedelta(seconds=seconds)


@dataclass(frozen=True)
class Fault:
    """A scripted failure; ``after_effect``: the broker did the work and then failed to say so (a lost answer)."""

    error: BrokerError
    after_effect: bool = False


def alpaca_order(client_order_id: str, *, broker_order_id: str = "b-1", status: str = "new", side: str = "buy",
                 symbol: str = "AAPL", qty: str | None = "1", filled_qty: str = "0", filled_avg_price: str | None = None,
                 at: datetime = START) -> dict[str, Any]:
    """An order as Alpaca's JSON has it (the fields the gateway reads, as strings)."""
    stamp = at.isoformat().replace("+00:00", "Z")
    return {"id": broker_order_id, "client_order_id": client_order_id, "symbol": symbol, "side": side, "qty": qty,
            "status": status, "filled_qty": filled_qty, "filled_avg_price": filled_avg_price,
            "created_at": stamp, "submitted_at": stamp, "updated_at": stamp}


class FakeBroker:
    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock()
        self.orders: dict[str, dict[str, Any]] = {}  # client_order_id -> Alpaca's JSON
        self.calls: list[str] = []  # method names, in the order they were called
        self._script: dict[str, deque[BrokerError | Fault]] = defaultdict(deque)
        self._ids = (f"b-{n}" for n in itertools.count(1))

    # ---- scripting -----------------------------------------------------------------------------------------
    def script(self, method: str, *outcomes: BrokerError | Fault) -> None:
        """The next calls of ``method`` fail like this, one outcome a call; later calls behave normally."""
        self._script[method].extend(outcomes)

    def holds(self, order: dict[str, Any]) -> None:
        """The broker already has this order (e.g. from an attempt whose answer we never got)."""
        self.orders[order["client_order_id"]] = order

    def fill(self, client_order_id: str, qty: Decimal, price: Decimal) -> dict[str, Any]:
        """One execution of ``qty`` at ``price``: the order's cumulative fill and average move, as Alpaca's do."""
        order = self.orders[client_order_id]
        before = Decimal(order["filled_qty"])
        cum = before + qty
        avg = (before * Decimal(order["filled_avg_price"] or 0) + qty * price) / cum
        order.update(filled_qty=str(cum), filled_avg_price=str(avg.quantize(Decimal("0.0001"))),
                     status="filled" if cum >= Decimal(order["qty"]) else "partially_filled")
        return order

    def _answer(self, method: str) -> Fault | None:
        """Record the call; raise a scripted error now, or hand back a fault to raise after the work."""
        self.calls.append(method)
        if not self._script[method]:
            return None
        outcome = self._script[method].popleft()
        if isinstance(outcome, Fault) and outcome.after_effect:
            return outcome
        raise outcome.error if isinstance(outcome, Fault) else outcome

    # ---- the Broker interface ------------------------------------------------------------------------------
    async def submit(self, order: OrderFields, client_order_id: str) -> dict[str, Any]:
        fault = self._answer("submit")
        if client_order_id in self.orders:
            raise BrokerRejected("client_order_id must be unique", status=422, code=40010001)
        self.orders[client_order_id] = alpaca_order(
            client_order_id, broker_order_id=next(self._ids), status="new", side=order.side.value,
            symbol=order.symbol, qty=None if order.qty is None else str(order.qty), at=self.clock.now())
        if fault is not None:
            raise fault.error
        return dict(self.orders[client_order_id])

    async def order_by_client_id(self, client_order_id: str) -> dict[str, Any] | None:
        self._answer("order_by_client_id")
        found = self.orders.get(client_order_id)
        return None if found is None else dict(found)

    async def order(self, broker_order_id: str) -> dict[str, Any]:
        self._answer("order")
        for order in self.orders.values():
            if order["id"] == broker_order_id:
                return dict(order)
        raise BrokerRejected("order not found", status=404, code=40410000)

    async def open_orders(self, page: int = 500) -> list[dict[str, Any]]:  # one page holds every order here
        self._answer("open_orders")
        return [dict(o) for o in self.orders.values() if not OrderStatus(o["status"]).is_final]

    async def orders_since(self, after: datetime, page: int = 500) -> list[dict[str, Any]]:
        self._answer("orders_since")
        return [dict(o) for o in self.orders.values() if datetime.fromisoformat(o["created_at"]) > after]

    async def cancel(self, broker_order_id: str) -> None:
        fault = self._answer("cancel")
        order = next((o for o in self.orders.values() if o["id"] == broker_order_id), None)
        if order is None:
            raise BrokerRejected("order not found", status=404, code=40410000)
        if OrderStatus(order["status"]).is_final:
            raise BrokerRejected("order is not cancelable", status=422, code=42210000)
        order["status"] = "canceled"
        if fault is not None:
            raise fault.error

    async def account(self) -> dict[str, Any]:
        self._answer("account")
        return {"buying_power": "100000", "equity": "100000", "cash": "100000"}

    async def positions(self) -> list[dict[str, Any]]:
        self._answer("positions")
        return []

    async def assets(self) -> list[dict[str, Any]]:
        self._answer("assets")
        return [{"symbol": "AAPL", "class": "us_equity", "tradable": True, "fractionable": True, "shortable": True}]

    async def latest_quotes(self, symbols: list[str]) -> dict[str, dict[str, Any]]:
        self._answer("latest_quotes")
        return {s: {"bp": "187.20", "ap": "187.30", "t": self.clock.now().isoformat()} for s in symbols}

    async def clock(self) -> dict[str, Any]:
        self._answer("clock")
        now = self.clock.now().isoformat()
        return {"timestamp": now, "is_open": True, "next_open": now, "next_close": now}

    async def calendar(self, start: date, end: date) -> list[dict[str, Any]]:
        self._answer("calendar")
        return []

    async def activities(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        self._answer("activities")
        return []

    def close(self) -> None:
        pass
