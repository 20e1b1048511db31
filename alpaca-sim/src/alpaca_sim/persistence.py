"""Saving and restoring the broker's state as JSON: a snapshot written atomically (temp file + rename), then one line
appended per save with what changed since (``StateFile``)."""

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
        **_whole_parts(broker),
        "activities": broker.ledger.activities,
        "orders": [_dump(o) for o in broker.orders.values()],
        "client_order_ids": broker.client_order_ids,
        "listings": [_dump(asset) for asset in broker.assets.listings],
        "renames": [list(pair) for pair in broker.assets.renames],
    }


def _whole_parts(broker: Broker) -> dict[str, Any]:
    """The parts of the state every appended line carries whole: their size grows with the symbols, not the orders."""
    return {
        "account_id": broker.account_id,
        "created_at": broker.created_at.isoformat(),
        "cash": str(broker.ledger.cash),
        "positions": [_dump(p) for p in broker.ledger.positions.values()],
        "liquidity": {s: str(q) for s, q in broker.liquidity.items()},
        "market_open": broker.clock.is_open,
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
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


REWRITE_AFTER_BYTES = 1 << 20  # appended lines below this never make the file be rewritten


class StateFile:
    """The ``--state`` file, saved after every change at the cost of the change, not of the whole state.

    Its first line is a snapshot (``snapshot``); each save after it appends one line (then fsync) with the orders
    added or changed since the last save (the order book tracks them), their client_order_ids, the new activities,
    and the small parts whole (cash, positions, liquidity, clock, feed). The file is rewritten whole (temp file,
    fsync, rename) on the first save of a broker, after a reset, a new listing or a symbol change, and once the
    appended lines outgrow the snapshot, so reading it back never costs more than about twice the state. A last
    line cut short (a crash in the middle of a save) is a save that never happened: reading stops before it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._broker: Broker | None = None
        self._orders: object = None
        self._activities: list | None = None
        self._activities_saved = 0
        self._assets = (0, 0)
        self._snapshot_bytes = 0
        self._appended_bytes = 0

    def save(self, broker: Broker) -> None:
        if self._continues(broker) and self._appended_bytes <= max(self._snapshot_bytes, REWRITE_AFTER_BYTES):
            self._append(broker)
        else:
            self._rewrite(broker)

    def _continues(self, broker: Broker) -> bool:
        """Whether the file's snapshot is of this broker's state, changed since only in what a line can carry."""
        return (
            broker is self._broker
            and broker.orders is self._orders
            and broker.ledger.activities is self._activities
            and (len(broker.assets.listings), len(broker.assets.renames)) == self._assets
        )

    def _rewrite(self, broker: Broker) -> None:
        broker.orders.track_changes()
        save(broker, self.path)
        self._broker, self._orders, self._activities = broker, broker.orders, broker.ledger.activities
        self._activities_saved = len(broker.ledger.activities)
        self._assets = (len(broker.assets.listings), len(broker.assets.renames))
        self._snapshot_bytes, self._appended_bytes = self.path.stat().st_size, 0

    def _append(self, broker: Broker) -> None:
        orders = broker.orders.take_changed()
        activities = broker.ledger.activities[self._activities_saved :]
        change = {
            "orders": [_dump(o) for o in orders],
            "client_order_ids": {o.client_order_id: o.id for o in orders},
            "activities": activities,
            **_whole_parts(broker),
        }
        line = json.dumps(change) + "\n"
        try:
            with open(self.path, "a") as handle:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
        except BaseException:
            self._broker = None  # part of the line may be in the file: the next save rewrites it whole
            raise
        self._activities_saved += len(activities)
        self._appended_bytes += len(line)


def read_state(text: str) -> dict[str, Any]:
    """The state a file holds: its snapshot (any JSON layout) with every appended line applied in turn."""
    state, end = json.JSONDecoder().raw_decode(text.lstrip())
    if not isinstance(state, dict):
        raise ValueError("the state is not a JSON object")
    orders = {o["id"]: o for o in state.get("orders", [])}
    client_order_ids = dict(state.get("client_order_ids", {}))
    activities = list(state.get("activities", []))
    lines = text.lstrip()[end:].split("\n")
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            change = json.loads(line)
        except ValueError:
            if number == len(lines) - 1:
                break  # cut short by a crash in the middle of its save: that save never happened
            raise
        orders.update((o["id"], o) for o in change.pop("orders"))
        client_order_ids.update(change.pop("client_order_ids"))
        activities += change.pop("activities")
        state.update(change)
    return {**state, "orders": list(orders.values()), "client_order_ids": client_order_ids, "activities": activities}


class StateFileError(Exception):
    """The state file exists but cannot be read back."""


def load(broker: Broker, path: Path) -> bool:
    if not path.exists():
        return False
    try:
        restore(broker, read_state(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError, ArithmeticError) as error:
        raise StateFileError(f"{type(error).__name__}: {error}") from error
    return True
