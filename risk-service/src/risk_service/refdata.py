"""The risk service's view of reference data: the runtime's live mirror of the ``REFDATA`` KV bucket, read as the
plain values the checks take (model.py). A missing entry stays missing: the checks reject with
REFERENCE_DATA_MISSING or *_STALE (by ``as_of``) rather than approving blind.

When a settled position was true (`settled_as_of`, which decides whether the broker's position has a fill yet, see
``tradebus_contracts.projection``): a held position says so itself (``PositionRef.as_of``). A symbol with no
position entry is flat as of the gateway's last *complete* refresh: the gateway writes the account, then every
held position, then deletes the ones no longer held, each refresh stamped alike; so when the next account entry
arrives, the previous refresh's deletes are all in. Flat is therefore known as of the account entry before the
latest one (None until two have been seen: nothing is proved settled before that).

`take_changed` tells a reader that keeps something per symbol (the decider's gross growth) which symbols' quote or
settled position changed since it last asked: a new account entry may change every flat symbol's ``settled_as_of``,
so it reads as "any".
"""

from __future__ import annotations

from datetime import datetime

from tradebus_contracts.refdata import ACCOUNT_KEY, parse_key
from tradebus_runtime.refdata import RefDataMirror

from .model import Account, Asset, Quote


class RefData(RefDataMirror):
    def __init__(self) -> None:
        super().__init__()
        self._flat_as_of: datetime | None = None
        self._changed: set[str] | None = None  # None: any symbol may have changed

    def apply(self, key: str, value: bytes | None) -> None:
        before = self.account
        super().apply(key, value)
        if key == ACCOUNT_KEY and before is not None and self.account is not before:
            self._flat_as_of = before.as_of
            self._changed = None
        elif self._changed is not None:
            try:
                kind, symbol = parse_key(key)
            except ValueError:
                return  # the mirror logged it and ignored it
            if kind in ("quotes", "positions"):
                self._changed.add(symbol or "")

    def take_changed(self) -> set[str] | None:
        """The symbols whose quote or settled position changed since the last call (None: any of them)."""
        changed, self._changed = self._changed, set()
        return changed

    def settled_as_of(self, symbol: str) -> datetime | None:
        """When the broker's position for ``symbol`` (``position_qty``) was last known to be what it says."""
        held = self.positions.get(symbol)
        return held.as_of if held is not None else self._flat_as_of

    def settled_floor(self) -> datetime | None:
        """The oldest of those times over every symbol: fills recorded before it are in every settled position."""
        times = [p.as_of for p in self.positions.values()]
        if self._flat_as_of is None:
            return None
        return min([*times, self._flat_as_of])

    def asset(self, symbol: str) -> Asset | None:
        ref = self.assets.get(symbol)
        if ref is None:
            return None
        return Asset(symbol=ref.symbol, tradable=ref.tradable, fractionable=ref.fractionable, shortable=ref.shortable,
                     as_of=ref.as_of)

    def quote(self, symbol: str) -> Quote | None:
        ref = self.quotes.get(symbol)
        return None if ref is None else Quote(symbol=ref.symbol, bid=ref.bid, ask=ref.ask, last=ref.last,
                                              as_of=ref.as_of)

    def account_view(self) -> Account | None:
        ref = self.account
        return None if ref is None else Account(buying_power=ref.buying_power, equity=ref.equity, as_of=ref.as_of)
