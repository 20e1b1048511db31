"""Order requests (Alpaca's validation rules) and the order record with its Alpaca JSON shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from tradebus_contracts.decimal_types import decimal_places
from tradebus_contracts.orders import OrderStatus

from .assets import Asset, AssetBook
from .errors import BrokerError, invalid, unprocessable
from .numbers import MAX_QTY_DECIMALS, fmt, is_sub_penny, optional_decimal

SIDES = ("buy", "sell")
TYPES = ("market", "limit", "stop", "stop_limit", "trailing_stop")
TIME_IN_FORCE = ("day", "gtc", "opg", "cls", "ioc", "fok")
MIN_FRACTIONAL_QTY = Decimal("0.001")
_WORKING = {"partially_filled", "filled", "pending_cancel", "pending_replace", "canceled", "expired"}
TRANSITIONS: dict[str, set[str]] = {
    "pending_new": {"new", "accepted", "rejected"},
    # queued while the market is closed: released at the open, or refused then if it can no longer be paid
    "accepted": {"new", "rejected", "pending_cancel", "pending_replace", "expired"},
    "new": _WORKING,
    "partially_filled": _WORKING,
    # a fill can land between a cancel/replace request and its completion: the real-world race
    "pending_cancel": {"canceled", "partially_filled", "filled"},
    "pending_replace": {"replaced", "partially_filled", "filled"},
}


_FINAL = frozenset(s.value for s in OrderStatus if s.is_final)


class IllegalTransition(RuntimeError):
    """A bug in the simulator: an order status change Alpaca would never make."""
MIN_NOTIONAL = Decimal("1")
PRICE_FIELDS_BY_TYPE = {
    "market": (),
    "limit": ("limit_price",),
    "stop": ("stop_price",),
    "stop_limit": ("limit_price", "stop_price"),
    "trailing_stop": (),
}


@dataclass(frozen=True)
class OrderSpec:
    """A validated order request: what the client asked for, nothing decided by the broker yet."""

    asset: Asset
    side: str
    type: str
    time_in_force: str
    qty: Decimal | None
    notional: Decimal | None
    limit_price: Decimal | None
    stop_price: Decimal | None
    trail_price: Decimal | None
    trail_percent: Decimal | None
    extended_hours: bool
    client_order_id: str | None

    @property
    def is_fractional(self) -> bool:
        return self.notional is not None or (self.qty is not None and self.qty != self.qty.to_integral_value())


def _choice(payload: dict, name: str, allowed: tuple[str, ...], default: str | None = None) -> str:
    value = payload.get(name, default)
    if value is None or value == "":
        raise invalid(f"{name} is required")
    if not isinstance(value, str) or value.lower() not in allowed:
        raise invalid(f"invalid {name}: {value!r}")
    return value.lower()


def _check_price(name: str, price: Decimal | None) -> None:
    if price is None:
        return
    if price <= 0:
        raise invalid(f"{name} must be > 0")
    if is_sub_penny(price):
        raise unprocessable(
            f"invalid {name} {fmt(price)}. sub-penny increment does not fulfill minimum pricing criteria"
        )


def _check_quantity(qty: Decimal | None, notional: Decimal | None) -> None:
    if (qty is None) == (notional is None):
        raise invalid("qty or notional is required" if qty is None else "only one of qty or notional can be specified")
    if qty is not None:
        if qty <= 0:
            raise invalid("qty must be > 0")
        if decimal_places(qty) > MAX_QTY_DECIMALS:
            raise invalid(f"qty must have at most {MAX_QTY_DECIMALS} decimal places")
    if notional is not None:
        if notional <= 0:
            raise invalid("notional must be > 0")
        if decimal_places(notional) > 2:
            raise invalid("notional must have at most 2 decimal places")
        if notional < MIN_NOTIONAL:
            raise _below_min_notional()


def _below_min_notional() -> BrokerError:
    return BrokerError(403, 40310000, "cost basis must be >= 1")


def parse_order_request(payload: Any, assets: AssetBook) -> OrderSpec:
    """Validate a POST /v2/orders body the way Alpaca does (stateless rules only)."""
    if not isinstance(payload, dict):
        raise BrokerError(400, 40010000, "request body format is invalid")
    order_class = payload.get("order_class") or "simple"
    if order_class != "simple":
        raise invalid(f"order_class {order_class!r} is not supported by alpaca-sim")
    symbol = payload.get("symbol")
    if not symbol or not isinstance(symbol, str):
        raise invalid("symbol is required")
    asset = assets.find(symbol)
    if asset is None:
        raise invalid(f'asset "{symbol}" not found')
    if not asset.tradable:
        raise invalid(f"asset {asset.symbol} is not tradable")
    side = _choice(payload, "side", SIDES)
    order_type = _choice(payload, "type", TYPES, payload.get("order_type"))
    tif = _choice(payload, "time_in_force", TIME_IN_FORCE)
    qty = optional_decimal(payload.get("qty"), "qty")
    notional = optional_decimal(payload.get("notional"), "notional")
    _check_quantity(qty, notional)
    prices = {name: optional_decimal(payload.get(name), name) for name in ("limit_price", "stop_price")}
    for name, price in prices.items():
        required = name in PRICE_FIELDS_BY_TYPE[order_type]
        if required and price is None:
            raise invalid(f"{name} is required for {order_type} orders")
        if not required and price is not None:
            raise invalid(f"{name} is not applicable for {order_type} orders")
        _check_price(name, price)
    trail_price = optional_decimal(payload.get("trail_price"), "trail_price")
    trail_percent = optional_decimal(payload.get("trail_percent"), "trail_percent")
    if order_type == "trailing_stop":
        if (trail_price is None) == (trail_percent is None):
            raise invalid("exactly one of trail_price or trail_percent is required for trailing_stop orders")
        if (trail_price or trail_percent) <= 0:
            raise invalid("trail must be > 0")
    elif trail_price is not None or trail_percent is not None:
        raise invalid(f"trail_price/trail_percent are not applicable for {order_type} orders")
    extended_hours = payload.get("extended_hours") or False
    if not isinstance(extended_hours, bool):
        raise invalid("invalid extended_hours")
    if extended_hours and (order_type != "limit" or tif != "day"):
        raise invalid("extended hours order must be DAY limit orders")
    client_order_id = payload.get("client_order_id")
    if client_order_id is not None and (not isinstance(client_order_id, str) or len(client_order_id) > 128):
        raise invalid("client_order_id must be a string of at most 128 characters")
    spec = OrderSpec(
        asset, side, order_type, tif, qty, notional, prices["limit_price"], prices["stop_price"],
        trail_price, trail_percent, extended_hours, client_order_id or None,
    )
    _check_fractional(spec)
    return spec


def _check_fractional(spec: OrderSpec) -> None:
    if spec.notional is not None and spec.type != "market":
        raise invalid("notional orders must be market orders")
    if not spec.is_fractional:
        return
    if not spec.asset.fractionable:
        raise invalid(f"asset {spec.asset.symbol} is not fractionable")
    if spec.time_in_force != "day":
        raise invalid("fractional orders must be DAY orders")
    if spec.type == "trailing_stop":
        raise invalid("fractional orders are not supported for trailing_stop orders")
    if spec.qty is not None and spec.qty < MIN_FRACTIONAL_QTY:
        raise invalid(f"qty must be >= {MIN_FRACTIONAL_QTY} for fractional orders")


@dataclass
class Order:
    """One broker order. Cumulative fields are derived from the executions applied to it."""

    id: str
    client_order_id: str
    symbol: str
    asset_id: str
    side: str
    type: str
    time_in_force: str
    qty: Decimal | None
    notional: Decimal | None
    limit_price: Decimal | None
    stop_price: Decimal | None
    extended_hours: bool
    created_at: datetime
    status: str = "new"
    trail_price: Decimal | None = None
    trail_percent: Decimal | None = None
    hwm: Decimal | None = None
    position_intent: str | None = None
    expires_at: datetime | None = None
    updated_at: datetime | None = None
    submitted_at: datetime | None = None
    filled_at: datetime | None = None
    expired_at: datetime | None = None
    canceled_at: datetime | None = None
    failed_at: datetime | None = None
    replaced_at: datetime | None = None
    replaced_by: str | None = None
    replaces: str | None = None
    filled_qty: Decimal = Decimal(0)
    filled_value: Decimal = Decimal(0)
    triggered: bool = False
    target_qty: Decimal | None = field(default=None)
    cancel_requested: bool = False

    def move_to(self, status: str) -> None:
        if status not in TRANSITIONS.get(self.status, set()):
            raise IllegalTransition(f"order {self.id}: {self.status} -> {status}")
        self.status = status

    @property
    def is_open(self) -> bool:
        return self.status not in _FINAL  # asked for every order on every submit and tick: no enum lookup

    @property
    def filled_avg_price(self) -> Decimal | None:
        if not self.filled_qty:
            return None
        return (self.filled_value / self.filled_qty).quantize(Decimal("0.0001")).normalize()

    @property
    def remaining_qty(self) -> Decimal | None:
        """None for a notional order that has not executed yet (its share count is set by its first fill)."""
        total = self.qty if self.qty is not None else self.target_qty
        return None if total is None else total - self.filled_qty

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "client_order_id": self.client_order_id,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at or self.created_at),
            "submitted_at": iso(self.submitted_at or self.created_at),
            "filled_at": iso(self.filled_at),
            "expired_at": iso(self.expired_at),
            "canceled_at": iso(self.canceled_at),
            "failed_at": iso(self.failed_at),
            "replaced_at": iso(self.replaced_at),
            "replaced_by": self.replaced_by,
            "replaces": self.replaces,
            "asset_id": self.asset_id,
            "symbol": self.symbol,
            "asset_class": "us_equity",
            "notional": fmt(self.notional),
            "qty": fmt(self.qty),
            "filled_qty": fmt(self.filled_qty),
            "filled_avg_price": fmt(self.filled_avg_price),
            "order_class": "simple",
            "order_type": self.type,
            "type": self.type,
            "side": self.side,
            "time_in_force": self.time_in_force,
            "limit_price": fmt(self.limit_price),
            "stop_price": fmt(self.stop_price),
            "status": self.status,
            "extended_hours": self.extended_hours,
            "legs": None,
            "trail_percent": fmt(self.trail_percent),
            "trail_price": fmt(self.trail_price),
            "hwm": fmt(self.hwm),
        }
        if self.position_intent:
            body["position_intent"] = self.position_intent
        if self.expires_at:
            body["expires_at"] = iso(self.expires_at)
        return body


def iso(moment: datetime | None) -> str | None:
    """RFC 3339 in UTC with a Z, as Alpaca writes timestamps."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
