"""Account, positions, position closing, corporate actions and activities, on top of the broker core."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import ROUND_DOWN, Decimal
from typing import Any

from .broker import Broker
from .errors import BrokerError, invalid, not_found
from .numbers import fmt, optional_decimal, round_qty_down
from .orders import Order, iso

ACTIVITY_PAGE_MAX = 100


def account_json(broker: Broker) -> dict[str, Any]:
    long_value, short_value = broker.market_values()
    equity = broker.equity()
    buying_power = fmt(broker.buying_power())
    margin = long_value - short_value
    now = broker.now()
    return {
        "id": broker.account_id,
        "account_number": "PA3SIM" + broker.account_id.replace("-", "")[:6].upper(),
        "status": "ACTIVE",
        "crypto_status": "INACTIVE",
        "currency": "USD",
        "buying_power": buying_power,
        "regt_buying_power": buying_power,
        "daytrading_buying_power": buying_power,
        "effective_buying_power": buying_power,
        "non_marginable_buying_power": buying_power,
        "options_buying_power": buying_power,
        "bod_dtbp": "0",
        "cash": fmt(broker.ledger.cash.quantize(Decimal("0.01"))),
        "accrued_fees": "0",
        "pending_transfer_in": "0",
        "pending_transfer_out": "0",
        "portfolio_value": fmt(equity.quantize(Decimal("0.01"))),
        "pattern_day_trader": False,
        "trading_blocked": False,
        "transfers_blocked": False,
        "account_blocked": False,
        "created_at": iso(broker.created_at),
        "trade_suspended_by_user": False,
        "multiplier": "1",
        "shorting_enabled": True,
        "equity": fmt(equity.quantize(Decimal("0.01"))),
        "last_equity": fmt(equity.quantize(Decimal("0.01"))),
        "long_market_value": fmt(long_value.quantize(Decimal("0.01"))),
        "short_market_value": fmt(short_value.quantize(Decimal("0.01"))),
        "position_market_value": fmt(margin.quantize(Decimal("0.01"))),
        "initial_margin": fmt(margin.quantize(Decimal("0.01"))),
        "maintenance_margin": fmt((margin * Decimal("0.3")).quantize(Decimal("0.01"))),
        "last_maintenance_margin": fmt((margin * Decimal("0.3")).quantize(Decimal("0.01"))),
        "sma": "0",
        "daytrade_count": 0,
        "balance_asof": now.date().isoformat(),
        "options_approved_level": 0,
        "options_trading_level": 0,
        "intraday_adjustments": "0",
        "pending_reg_taf_fees": "0",
    }


def _held_for_orders(broker: Broker, symbol: str, qty: Decimal) -> Decimal:
    side = "sell" if qty > 0 else "buy"
    return broker.pending_qty(symbol, side)


def positions_json(broker: Broker) -> list[dict[str, Any]]:
    return [
        p.to_json(broker.price(p.symbol), _held_for_orders(broker, p.symbol, p.qty))
        for p in sorted(broker.ledger.positions.values(), key=lambda p: p.symbol)
    ]


def position_json(broker: Broker, symbol_or_id: str) -> dict[str, Any]:
    position = _position(broker, symbol_or_id)
    return position.to_json(broker.price(position.symbol), _held_for_orders(broker, position.symbol, position.qty))


def _position(broker: Broker, symbol_or_id: str):
    asset = broker.assets.find(symbol_or_id)
    position = broker.ledger.positions.get(asset.symbol) if asset else None
    if position is None:
        raise not_found("position does not exist")
    return position


def close_position(broker: Broker, symbol_or_id: str, params: dict[str, Any]) -> Order:
    """DELETE /v2/positions/{symbol}: a market order for all, `qty` or `percentage` of the position."""
    position = _position(broker, symbol_or_id)
    size = abs(position.qty)
    qty_param, pct_param = params.get("qty"), params.get("percentage")
    if qty_param not in (None, "") and pct_param not in (None, ""):
        raise invalid("only one of qty or percentage can be specified")
    qty = size
    if qty_param not in (None, ""):
        qty = optional_decimal(qty_param, "qty")
    elif pct_param not in (None, ""):
        pct = optional_decimal(pct_param, "percentage")
        if pct <= 0 or pct > 100:
            raise invalid("percentage must be in (0, 100]")
        qty = round_qty_down(size * pct / 100)
        if not broker.assets.find(position.symbol).fractionable:
            qty = qty.quantize(Decimal(1), rounding=ROUND_DOWN)
    if qty <= 0 or qty > size:
        raise BrokerError(403, 40310000, f"insufficient qty available for order (requested: {fmt(qty)}, available: {fmt(size)})")
    side = "sell" if position.qty > 0 else "buy"
    return broker.submit({"symbol": position.symbol, "qty": fmt(qty), "side": side, "type": "market", "time_in_force": "day"})


def close_all_positions(broker: Broker, cancel_orders: bool) -> list[dict[str, Any]]:
    if cancel_orders:
        broker.complete_pending_cancels()
        broker.cancel_all()
    results = []
    for symbol in sorted(broker.ledger.positions):
        try:
            order = close_position(broker, symbol, {})
            results.append({"symbol": symbol, "status": 200, "body": order.to_json()})
        except BrokerError as error:
            results.append({"symbol": symbol, "status": error.status, "body": {**error.body(), "symbol": symbol}})
    return results


def corporate_action(broker: Broker, payload: Any) -> dict[str, Any]:
    """POST /admin/corporate_actions: {"type":"split","symbol","new_rate","old_rate"} or
    {"type":"dividend","symbol","cash"} (per share; "amount" and "per_share_amount" are accepted too)."""
    if not isinstance(payload, dict):
        raise invalid("request body must be a JSON object")
    kind = payload.get("type")
    asset = broker.assets.find(str(payload.get("symbol") or ""))
    if asset is None:
        raise not_found("asset not found")
    now = broker.now()
    if kind == "split":
        new_rate = optional_decimal(payload.get("new_rate", payload.get("ratio")), "new_rate")
        old_rate = optional_decimal(payload.get("old_rate", 1), "old_rate")
        if not new_rate or not old_rate or new_rate <= 0 or old_rate <= 0:
            raise invalid("new_rate and old_rate must be > 0")
        ratio = new_rate / old_rate
        for order in [o for o in broker.orders.values() if o.is_open and o.symbol == asset.symbol]:
            if order.status == "pending_cancel":
                broker.complete_cancel(order.id)
            else:
                broker.cancel(order.id)
        position = broker.ledger.split(asset.symbol, ratio, now)
        broker.feed.scale(asset.symbol, ratio)
        broker.version += 1
        return {"type": "split", "symbol": asset.symbol, "ratio": fmt(ratio),
                "position_qty": fmt(position.qty) if position else "0"}
    if kind == "dividend":
        raw = next((payload[k] for k in ("cash", "amount", "per_share_amount", "rate") if payload.get(k) is not None), None)
        per_share = optional_decimal(raw, "cash")
        if per_share is None or per_share <= 0:
            raise invalid("dividend needs a positive per-share 'cash' amount")
        amount = broker.ledger.dividend(asset.symbol, per_share, now)
        broker.version += 1
        return {"type": "dividend", "symbol": asset.symbol, "per_share_amount": fmt(per_share), "net_amount": fmt(amount)}
    raise invalid("type must be 'split' or 'dividend'")


def activities(broker: Broker, types: list[str] | None, params: dict[str, Any]) -> list[dict[str, Any]]:
    """GET /v2/account/activities[/{type}] with after/until/date/direction/page_size/page_token."""
    direction = params.get("direction") or "desc"
    if direction not in ("asc", "desc"):
        raise invalid("invalid direction")
    page_size = params.get("page_size")
    try:
        size = min(int(page_size), ACTIVITY_PAGE_MAX) if page_size not in (None, "") else ACTIVITY_PAGE_MAX
    except ValueError:
        raise invalid("invalid page_size") from None
    if size < 1:
        raise invalid("invalid page_size")
    rows = [a for a in broker.ledger.activities if not types or a["activity_type"] in types]
    rows = [a for a in rows if _within(a, params)]
    if direction == "desc":
        rows.reverse()
    token = params.get("page_token")
    if token:
        ids = [a["id"] for a in rows]
        rows = rows[ids.index(token) + 1:] if token in ids else []
    return rows[:size]


def _within(activity: dict[str, Any], params: dict[str, Any]) -> bool:
    day = activity["id"][:8]
    stamp = activity["id"][:17]
    for name, test in (("date", lambda v: day == v), ("after", lambda v: stamp > v), ("until", lambda v: stamp <= v)):
        value = params.get(name)
        if value:
            try:
                moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                raise invalid(f"invalid {name}") from None
            if moment.tzinfo is not None:
                moment = moment.astimezone(timezone.utc)
            key = moment.strftime("%Y%m%d") if name == "date" else moment.strftime("%Y%m%d%H%M%S%f")[:17]
            if not test(key):
                return False
    return True
