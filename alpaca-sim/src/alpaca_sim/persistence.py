"""Saving and restoring the broker's state as JSON, atomically (temp file + rename)."""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from .assets import Asset
from .broker import Broker
from .corporate_actions import list_asset, rename_symbol
from .ledger import Position
from .orders import Order

STATE_VERSION = 1
_DECIMAL_FIELDS = {"qty", "notional", "limit_price", "stop_price", "trail_price", "trail_percent", "hwm",
                   "filled_qty", "filled_value", "target_qty", "avg_entry_price"}
_TIME_FIELDS = {"created_at", "updated_at", "submitted_at", "filled_at", "expired_at", "canceled_at",
                "failed_at", "replaced_at", "expires_at"}


def _dump(record: Any) -> dict[str, Any]:
    out = {}
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        if isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, datetime):
            value = value.isoformat()
        out[f.name] = value
    return out


def _load(cls: type, data: dict[str, Any]) -> Any:
    known = {f.name for f in dataclasses.fields(cls)}
    values = {}
    for name, value in data.items():
        if name not in known:
            continue
        if value is not None and name in _DECIMAL_FIELDS:
            value = Decimal(value)
        elif value is not None and name in _TIME_FIELDS:
            value = datetime.fromisoformat(value)
        values[name] = value
    return cls(**values)


def snapshot(broker: Broker) -> dict[str, Any]:
    return {
        "version": STATE_VERSION,
        "account_id": broker.account_id,
        "created_at": broker.created_at.isoformat(),
        "cash": str(broker.ledger.cash),
        "positions": [_dump(p) for p in broker.ledger.positions.values()],
        "activities": broker.ledger.activities,
        "orders": [_dump(o) for o in broker.orders.values()],
        "client_order_ids": broker.client_order_ids,
        "liquidity": {s: str(q) for s, q in broker.liquidity.items()},
        "market_open": broker.clock.is_open,
        "listings": [_dump(asset) for asset in broker.assets.listings],
        "renames": [list(pair) for pair in broker.assets.renames],
        "feed": broker.feed.to_state(),
    }


def restore(broker: Broker, state: dict[str, Any]) -> None:
    broker.account_id = state.get("account_id", broker.account_id)
    if state.get("created_at"):
        broker.created_at = datetime.fromisoformat(state["created_at"])
    broker.ledger.cash = Decimal(state.get("cash", str(broker.ledger.cash)))
    broker.ledger.positions = {p["symbol"]: _load(Position, p) for p in state.get("positions", [])}
    broker.ledger.activities = list(state.get("activities", []))
    broker.orders = {o["id"]: _load(Order, o) for o in state.get("orders", [])}
    broker.client_order_ids = dict(state.get("client_order_ids", {}))
    broker.liquidity = {s: Decimal(q) for s, q in state.get("liquidity", {}).items()}
    broker.clock.is_open = bool(state.get("market_open", broker.clock.is_open))
    for listed in state.get("listings", []):  # before the renames and the feed: they may name a listed symbol
        list_asset(broker, _load(Asset, listed | {"price": Decimal(listed["price"])}))
    for old, new in state.get("renames", []):  # symbol changes, before the feed: the new symbols quote too
        rename_symbol(broker, old, new)
    broker.feed.load_state(state.get("feed", {}))


def save(broker: Broker, path: Path) -> None:
    """Write the whole state to a temp file in the same folder, fsync, then rename over the old file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(snapshot(broker), handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class StateFileError(Exception):
    """The state file exists but cannot be read back."""


def load(broker: Broker, path: Path) -> bool:
    if not path.exists():
        return False
    try:
        restore(broker, json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError, ArithmeticError) as error:
        raise StateFileError(f"{type(error).__name__}: {error}") from error
    return True
