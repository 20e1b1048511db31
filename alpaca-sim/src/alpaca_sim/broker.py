"""The broker core: order lifecycle, matching against the feed, funds checks and trade updates.

Pure in the sense that matters for tests: no I/O, an injectable clock, a seeded feed. The HTTP layer
calls it and forwards the trade updates it emits to the websocket and webhooks.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Callable

from .assets import Asset, AssetBook
from .errors import forbidden, invalid, not_found, unprocessable
from .ledger import DEFAULT_CASH, Ledger
from .market import MarketClock, PriceFeed, Quote
from .matching import Execution, far_side, next_execution
from .numbers import fmt, is_sub_penny, optional_decimal, round_price, round_qty_down
from .order_book import OrderBook
from .orders import Order, OrderSpec, iso, parse_order_request

TradeUpdate = dict[str, Any]
Listener = Callable[[TradeUpdate], None]
ZERO = Decimal(0)
MARKET_COLLAR = Decimal("1.03")


class Broker:
    def __init__(
        self,
        assets: AssetBook | None = None,
        feed: PriceFeed | None = None,
        clock: MarketClock | None = None,
        cash: Decimal = DEFAULT_CASH,
        seed: int = 0,
    ) -> None:
        self.assets = assets or AssetBook()
        self.clock = clock or MarketClock()
        self.feed = feed or PriceFeed(self.assets, seed=seed, now=self.clock.now)
        self.initial_cash = cash
        self.ledger = Ledger(cash)
        self.orders = OrderBook()
        self.client_order_ids: dict[str, str] = {}
        self.liquidity: dict[str, Decimal] = {}
        self.listeners: list[Listener] = []
        self.listener_failures = 0
        self.account_id = str(uuid.uuid4())
        self.created_at = self.clock.now()
        self.version = 0

    @property
    def orders(self) -> OrderBook:
        return self._orders

    @orders.setter
    def orders(self, orders: Mapping[str, Order]) -> None:
        self._orders = orders if isinstance(orders, OrderBook) else OrderBook(orders)

    def now(self) -> datetime:
        return self.clock.now()

    # ------------------------------------------------------------------ orders
    def submit(self, payload: Any) -> Order:
        spec = parse_order_request(payload, self.assets)
        client_order_id = spec.client_order_id or str(uuid.uuid4())
        if client_order_id in self.client_order_ids:
            raise invalid("client_order_id must be unique")
        intent = self._check_funds(spec)
        now = self.now()
        order = Order(
            id=str(uuid.uuid4()), client_order_id=client_order_id, symbol=spec.asset.symbol,
            asset_id=spec.asset.id, side=spec.side, type=spec.type, time_in_force=spec.time_in_force,
            qty=spec.qty, notional=spec.notional, limit_price=spec.limit_price, stop_price=spec.stop_price,
            extended_hours=spec.extended_hours, created_at=now, status="pending_new",
            trail_price=spec.trail_price, trail_percent=spec.trail_percent, position_intent=intent,
            expires_at=self._expiry(spec.time_in_force, now),
        )
        self.orders.add(order)
        self.client_order_ids[client_order_id] = order.id
        self.version += 1
        self._emit("pending_new", order)
        self._route(order)
        return order

    def _route(self, order: Order) -> None:
        """Live now, or queued ("accepted") until the next open when the market is closed."""
        order.move_to("new" if self._can_trade(order) else "accepted")
        order.updated_at = self.now()
        self._emit(order.status, order)

    def _can_trade(self, order: Order) -> bool:
        return self.clock.is_open or order.extended_hours

    def _expiry(self, tif: str, now: datetime) -> datetime | None:
        if tif == "gtc":
            return now + timedelta(days=90)
        if tif in ("day", "opg", "cls"):
            return self.clock.next_close()
        return None

    def get_order(self, order_id: str) -> Order:
        order = self.orders.get(str(order_id).lower())
        if order is None:
            raise not_found("order not found")
        return order

    def get_by_client_order_id(self, client_order_id: str) -> Order:
        order_id = self.client_order_ids.get(client_order_id or "")
        if order_id is None or order_id not in self.orders:
            raise not_found("order not found")
        return self.orders[order_id]

    def cancel(self, order_id: str, complete: bool = True) -> Order:
        """Request a cancel. With complete=False the order waits in pending_cancel, where it can still fill,
        until complete_cancel(): Alpaca's cancels are asynchronous too."""
        order = self.get_order(order_id)
        if not order.is_open or order.status == "pending_cancel":
            raise unprocessable(f'order is already in "{order.status}" state')
        order.cancel_requested = True
        self._finish(order, "pending_cancel")
        if complete:
            self.complete_cancel(order.id)
        return order

    def complete_cancel(self, order_id: str) -> None:
        order = self.orders.get(order_id)
        if order is not None and order.is_open and order.cancel_requested:
            self._finish(order, "canceled")

    def complete_pending_cancels(self) -> None:
        for order in [o for o in self.orders.open() if o.cancel_requested]:
            self.complete_cancel(order.id)

    def cancel_all(self, complete: bool = True) -> list[dict[str, Any]]:
        results = []
        for order in [o for o in self.orders.open() if o.status != "pending_cancel"]:
            self.cancel(order.id, complete)
            results.append({"id": order.id, "status": 200, "body": order.to_json()})
        return results

    def replace(self, order_id: str, payload: Any) -> Order:
        old = self.get_order(order_id)
        if not isinstance(payload, dict) or not payload:
            raise invalid("no replace fields given")
        # Alpaca: "Order cannot be replaced when the status is accepted, pending_new, pending_cancel or pending_replace"
        if not old.is_open or old.status in ("accepted", "pending_new", "pending_cancel", "pending_replace"):
            raise unprocessable(f'order is already in "{old.status}" state')
        request = {
            "symbol": old.symbol, "side": old.side, "type": old.type,
            "time_in_force": payload.get("time_in_force") or old.time_in_force,
            # each given field overrides the old order's, the others stay as they were (qty included)
            "qty": payload.get("qty") if payload.get("qty") is not None else fmt(old.qty),
            "limit_price": payload.get("limit_price", fmt(old.limit_price)),
            "stop_price": payload.get("stop_price", fmt(old.stop_price) if old.type != "trailing_stop" else None),
            "extended_hours": old.extended_hours,
            "client_order_id": payload.get("client_order_id"),
        }
        if old.notional is not None and payload.get("qty") is None:
            request["qty"], request["notional"] = None, fmt(old.notional)
        if old.type == "trailing_stop":
            trail = payload.get("trail")
            request["trail_price" if old.trail_price is not None else "trail_percent"] = (
                trail if trail is not None else fmt(old.trail_price or old.trail_percent)
            )
        spec = parse_order_request(request, self.assets)
        if spec.client_order_id and spec.client_order_id in self.client_order_ids:
            raise invalid("client_order_id must be unique")
        self._check_funds(spec, exclude=old)
        self._finish(old, "pending_replace")
        new = self._replacement(old, spec)
        old.replaced_by, old.replaced_at = new.id, self.now()
        self._finish(old, "replaced")
        self._route(new)
        return new

    def _replacement(self, old: Order, spec: OrderSpec) -> Order:
        client_order_id = spec.client_order_id or str(uuid.uuid4())
        new = Order(
            id=str(uuid.uuid4()), client_order_id=client_order_id, symbol=old.symbol, asset_id=old.asset_id,
            side=old.side, type=old.type, time_in_force=spec.time_in_force, qty=spec.qty, notional=spec.notional,
            limit_price=spec.limit_price, stop_price=spec.stop_price, extended_hours=old.extended_hours,
            created_at=self.now(), status="pending_new", trail_price=spec.trail_price,
            trail_percent=spec.trail_percent, position_intent=old.position_intent, replaces=old.id,
            expires_at=self._expiry(spec.time_in_force, self.now()),
        )
        self.orders.add(new)
        self.client_order_ids[client_order_id] = new.id
        return new

    def list_orders(
        self,
        status: str = "open",
        limit: int = 50,
        after: datetime | None = None,
        until: datetime | None = None,
        direction: str = "desc",
        symbols: list[str] | None = None,
        side: str | None = None,
    ) -> list[Order]:
        chosen: list[Order] = []
        for order in self.orders.by_time(status, after, until, direction):
            if len(chosen) >= limit:
                break
            if symbols and order.symbol not in symbols or side and order.side != side:
                continue
            chosen.append(order)
        return chosen

    def _finish(self, order: Order, status: str, event: str | None = None) -> None:
        now = self.now()
        order.move_to(status)
        order.updated_at = now
        if status == "canceled":
            order.canceled_at = now
        elif status == "expired":
            order.expired_at = now
        elif status == "rejected":
            order.failed_at = now
        self.version += 1
        self._emit(event or status, order)

    # ------------------------------------------------------------- funds checks
    def _estimate_price(self, spec: OrderSpec) -> Decimal:
        """Alpaca values an opening buy at its limit price, or 3% above the market when it has none; an
        opening short at MAX(limit price, 3% above the ask). Closing orders are checked by quantity only."""
        quote = self.feed.quote(spec.asset.symbol)
        collar = quote.ask * MARKET_COLLAR
        if spec.side == "sell":
            return max(spec.limit_price or ZERO, collar)
        if spec.type in ("limit", "stop_limit"):
            return spec.limit_price
        if spec.type == "stop":
            return max(spec.stop_price, quote.ask) * MARKET_COLLAR
        return collar

    def _check_funds(self, spec: OrderSpec, exclude: Order | None = None) -> str:
        """Buying power for what opens exposure, available shares for what closes it. Returns the position intent."""
        price = self._estimate_price(spec)
        market = far_side(spec.side, self.feed.quote(spec.asset.symbol))
        qty = spec.qty if spec.qty is not None else round_qty_down(spec.notional / market)
        position = self.ledger.qty(spec.asset.symbol)
        if spec.side == "buy":
            covering = min(qty, max(-position - self.pending_qty(spec.asset.symbol, "buy", exclude), ZERO))
            opening = qty - covering
            cost = spec.notional if spec.notional is not None and covering == 0 else opening * price
            buying_power = self.buying_power(exclude)
            if opening > 0 and cost > buying_power:
                raise forbidden("insufficient buying power", buying_power=fmt(buying_power), cost_basis=fmt(cost))
            return "buy_to_close" if position < 0 else "buy_to_open"
        held = self.pending_qty(spec.asset.symbol, "sell", exclude)
        available = max(position, ZERO) - held
        if qty <= available:
            return "sell_to_close"
        if position > 0 or held > 0 or spec.is_fractional:
            raise forbidden(
                f"insufficient qty available for order (requested: {fmt(qty)}, available: {fmt(max(available, ZERO))})",
                available=fmt(max(available, ZERO)), existing_qty=fmt(position), held_for_orders=fmt(held),
                related_orders=[o.id for o in self.orders.open(spec.asset.symbol, "sell") if o is not exclude],
                symbol=spec.asset.symbol,
            )
        self._check_short(spec.asset, qty * price, exclude)
        return "sell_to_open"

    def _check_short(self, asset: Asset, cost: Decimal, exclude: Order | None) -> None:
        if not (asset.shortable and asset.easy_to_borrow):
            raise forbidden(f"asset {asset.symbol} cannot be sold short")
        buying_power = self.buying_power(exclude)
        if cost > buying_power:
            raise forbidden("insufficient buying power", buying_power=fmt(buying_power), cost_basis=fmt(cost))

    def pending_qty(self, symbol: str, side: str, exclude: Order | None = None) -> Decimal:
        """Unfilled quantity of the open orders on one side of a symbol."""
        return self.orders.pending_qty(symbol, side, exclude)

    def _held(self, exclude: Order | None = None) -> Decimal:
        """Cash held by the open orders that open exposure: at their limit or stop price, or their notional (the
        book's running total), and at 3% above the ask of the moment when they have no price."""
        held = self.orders.held_at_fixed_prices(exclude)
        for symbol, qty in self.orders.held_at_market(exclude):
            held += qty * (self.feed.quote(symbol).ask * MARKET_COLLAR)
        return held

    # ---------------------------------------------------------------- account
    def price(self, symbol: str) -> Decimal:
        """Marks positions at the quote's mid: the simulated market trades between bid and ask."""
        return round_price(self.feed.quote(symbol).mid)

    def market_values(self) -> tuple[Decimal, Decimal]:
        long_value = short_value = ZERO
        for position in self.ledger.positions.values():
            value = position.qty * self.price(position.symbol)
            if value > 0:
                long_value += value
            else:
                short_value += value
        return long_value, short_value

    def equity(self) -> Decimal:
        long_value, short_value = self.market_values()
        return self.ledger.cash + long_value + short_value

    def buying_power(self, exclude: Order | None = None) -> Decimal:
        long_value, short_value = self.market_values()
        margin = long_value - short_value
        return max(self.equity() - margin - self._held(exclude), ZERO).quantize(Decimal("0.01"))

    # --------------------------------------------------------------- matching
    def match_all(self) -> None:
        for symbol in self.orders.symbols():
            self.match_symbol(symbol)

    def match_symbol(self, symbol: str) -> None:
        """Every open order of the symbol that this quote can fill, trigger, trail or end, in the order placed (the
        book leaves out the resting ones it cannot reach)."""
        quote = self.feed.quote(symbol)
        for order in self.orders.to_match(symbol, quote.bid, quote.ask):
            self._match(order, quote)

    def _match(self, order: Order, quote: Quote) -> None:
        """One open order against its symbol's quote: the execution it can have, then an ioc/fok's rest canceled."""
        if order.status == "accepted" or not self._can_trade(order):
            return
        execution = next_execution(order, quote, self.liquidity.get(order.symbol))
        if execution is not None:
            self._execute(order, execution)
        if order.is_open and order.time_in_force in ("ioc", "fok"):
            self._finish(order, "canceled")

    def _execute(self, order: Order, execution: Execution) -> None:
        now = self.now()
        position_qty = self.ledger.apply_fill(
            order.symbol, order.asset_id, self.assets.find(order.symbol).exchange, order.side,
            execution.qty, execution.price,
        )
        order.filled_qty += execution.qty
        order.filled_value += execution.qty * execution.price
        order.updated_at = now
        done = order.remaining_qty <= 0
        order.move_to("filled" if done else "partially_filled")
        if done:
            order.filled_at = now
        self.feed.record_trade(order.symbol, execution.price, execution.qty)
        self.version += 1
        body = order.to_json()
        self.ledger.fill_activity(now, body, execution.qty, execution.price, order.remaining_qty)
        self._emit(
            "fill" if done else "partial_fill", order, body=body, execution_id=str(uuid.uuid4()),
            qty=fmt(execution.qty), price=fmt(execution.price), position_qty=fmt(position_qty),
        )

    # ---------------------------------------------------------- market control
    def set_quote(self, symbol: str, bid: Any, ask: Any) -> dict[str, Any]:
        asset = self.asset(symbol)
        bid_price, ask_price = optional_decimal(bid, "bid"), optional_decimal(ask, "ask")
        if bid_price is None or ask_price is None or bid_price <= 0 or ask_price <= 0:
            raise invalid("bid and ask must be positive numbers")
        if bid_price > ask_price:
            raise invalid("bid must not exceed ask")
        if is_sub_penny(bid_price) or is_sub_penny(ask_price):
            raise invalid("bid and ask must be on the tick grid (0.01 at or above $1, 0.0001 below)")
        quote = self.feed.pin(asset.symbol, bid_price, ask_price)
        self.version += 1
        self.match_symbol(asset.symbol)
        return {"symbol": asset.symbol, "bid": fmt(quote.bid), "ask": fmt(quote.ask), "timestamp": iso(quote.timestamp)}

    def set_liquidity(self, symbol: str, max_fill_qty: Any) -> dict[str, Any]:
        asset = self.asset(symbol)
        cap = optional_decimal(max_fill_qty, "max_fill_qty")
        if cap is not None and cap <= 0:
            raise invalid("max_fill_qty must be > 0 (or null to remove the cap)")
        if cap is None:
            self.liquidity.pop(asset.symbol, None)
        else:
            self.liquidity[asset.symbol] = cap
        self.version += 1
        return {"symbol": asset.symbol, "max_fill_qty": fmt(cap)}

    def set_market_open(self, is_open: bool) -> None:
        if is_open == self.clock.is_open:
            return
        self.clock.is_open = is_open
        self.version += 1
        if is_open:
            for order in [o for o in self.orders.open() if o.status == "accepted"]:
                self._release(order)
            self.match_all()
            return
        for order in [o for o in self.orders.open() if o.status != "accepted"]:
            if order.cancel_requested:
                self.complete_cancel(order.id)
            elif order.time_in_force in ("day", "opg", "cls"):
                self._finish(order, "expired")

    def _release(self, order: Order) -> None:
        """A queued order goes live at the open, unless the account can no longer pay for it."""
        if order.position_intent in ("buy_to_open", "sell_to_open"):
            cost = (order.remaining_qty or ZERO) * far_side(order.side, self.feed.quote(order.symbol))
            if order.remaining_qty is not None and cost > self.buying_power(exclude=order):
                self._finish(order, "rejected")
                return
        self._route(order)

    def tick(self) -> None:
        self.feed.step()
        self.match_all()

    def asset(self, symbol: str) -> Asset:
        asset = self.assets.find(symbol)
        if asset is None:
            raise not_found("asset not found")
        return asset

    # ----------------------------------------------------------------- events
    def _emit(self, event: str, order: Order, body: dict | None = None, **fields: Any) -> None:
        update = {"event": event, "timestamp": iso(self.now()), "order": body or order.to_json(), **fields}
        for listener in list(self.listeners):
            try:
                listener(update)
            except Exception:  # a failing subscriber must never leave a state change half-applied
                self.listener_failures += 1
