"""Account, positions, position closing and activities, on top of the broker core (corporate actions:
corporate_actions.py, re-exported here)."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from decimal import ROUND_DOWN, Decimal
from typing import Any

from .broker import Broker
from .corporate_actions import corporate_action
from .errors import BrokerError, invalid, not_found
from .numbers import fmt, optional_decimal, round_qty_down
from .orders import Order, iso

__all__ = ["account_json", "positions_json", "position_json", "close_position", "close_all_positions",
           "corporate_action", "activities", "activity_types"]

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


ACTIVITY_TYPES = frozenset((
    "FILL", "TRANS", "MISC", "ACATC", "ACATS", "CFEE", "CGD", "CSD", "CSW", "DIV", "DIVCGL", "DIVCGS", "DIVFEE",
    "DIVFT", "DIVNRA", "DIVROC", "DIVTW", "DIVTXEX", "FEE", "INT", "INTNRA", "INTTW", "JNL", "JNLC", "JNLS", "MA",
    "NC", "OPASN", "OPCA", "OPCSH", "OPEXC", "OPEXP", "OPTRD", "PTC", "PTR", "REO", "REORG", "SPIN", "SPLIT",
    "FOPT", "OCT",
))  # Alpaca's ActivityType enum (trading-api.json); legacy codes still returned (SSO, SSP) are not filters
TRADE_TYPES = frozenset({"FILL"})
_TRANS = frozenset({"CSD", "CSW"})
CATEGORIES = ("trade_activity", "non_trade_activity")


def activity_types(raw: str | None) -> frozenset[str] | None:
    """``activity_types=FILL,DIV``: each must be one of Alpaca's types (422 otherwise); None: no filter."""
    kinds = frozenset(t.strip().upper() for t in (raw or "").split(",") if t.strip())
    unknown = sorted(kinds - ACTIVITY_TYPES)
    if unknown:
        raise invalid(f"invalid activity_types: {','.join(unknown)}")
    return kinds or None


def activities(broker: Broker, types: frozenset[str] | None, params: dict[str, Any],
               category: str | None = None) -> list[dict[str, Any]]:
    """GET /v2/account/activities[/{type}]: filtered by types or category, ``order_id``, ``date``/``after``/``until``
    (on the creation time, which the id starts with), ``direction``, ``page_size`` (≤ 100) and ``page_token`` (the
    id of the last activity of the previous page: the page starts after it in the chosen direction)."""
    if category is not None and category not in CATEGORIES:
        raise invalid(f"invalid category: {category}")
    if category is not None and types is not None:
        raise invalid("category cannot be used with activity_types")
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
    order_id = _uuid(params.get("order_id"), "order_id")
    window = _window(params)
    token = params.get("page_token") or None
    rows = []
    for activity in broker.ledger.activities:
        kind = activity["activity_type"]
        if types is not None and not _type_matches(kind, types) or not _in_category(kind, category):
            continue
        if order_id is not None and activity.get("order_id") != order_id or not window(activity["id"]):
            continue
        if token is not None and (activity["id"] <= token if direction == "asc" else activity["id"] >= token):
            continue
        rows.append(activity)
    if direction == "desc":
        rows.reverse()
    return rows[:size]


def _type_matches(kind: str, types: frozenset[str]) -> bool:
    """TRANS is CSD and CSW; MISC every type but those, the dividends and FILL (Alpaca's ActivityType groups)."""
    return (kind in types or "TRANS" in types and kind in _TRANS
            or "MISC" in types and kind not in _TRANS and kind not in TRADE_TYPES and not kind.startswith("DIV"))


def _in_category(kind: str, category: str | None) -> bool:
    return category is None or (kind in TRADE_TYPES) == (category == "trade_activity")


def _uuid(raw: Any, name: str) -> str | None:
    if raw in (None, ""):
        return None
    try:
        return str(uuid.UUID(str(raw)))
    except ValueError:
        raise invalid(f"invalid {name}") from None


def _window(params: dict[str, Any]):
    """The date/after/until test on an activity id's creation stamp (``YYYYMMDDHHMMSSmmm``), parsed once."""
    bounds = []
    for name in ("date", "after", "until"):
        value = params.get(name)
        if not value:
            continue
        try:
            moment = datetime.fromisoformat(value.strip().replace(" ", "+").replace("Z", "+00:00"))
        except ValueError:
            raise invalid(f"invalid {name}") from None
        if moment.tzinfo is not None:
            moment = moment.astimezone(timezone.utc)
        bounds.append((name, moment.strftime("%Y%m%d") if name == "date" else moment.strftime("%Y%m%d%H%M%S%f")[:17]))

    def within(activity_id: str) -> bool:
        for name, key in bounds:
            if name == "date" and activity_id[:8] != key or name == "after" and activity_id[:17] <= key \
                    or name == "until" and activity_id[:17] > key:
                return False
        return True

    return within
