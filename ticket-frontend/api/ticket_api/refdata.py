"""The ticket's live mirror of the ``REFDATA`` KV bucket (quotes, positions, account) that the order gateway keeps.

Same approach as the risk service's mirror: watch every key, keep the latest value in memory. The ticket only
reads quotes, positions and the account (it has no use for assets). A missing entry is simply absent: the
API answers 404 for a quote it does not have rather than inventing one, and marks an old quote ``stale``.
"""

from __future__ import annotations

import asyncio

from nats.js import JetStreamContext
from nats.js.kv import KV_DEL, KV_PURGE
from pydantic import ValidationError

from tradebus_contracts.refdata import REFDATA_BUCKET, AccountRef, PositionRef, QuoteRef, parse_key
from tradebus_runtime import get_logger
from tradebus_runtime.bus import ensure_kv

log = get_logger(__name__)


class RefDataMirror:
    def __init__(self) -> None:
        self.quotes: dict[str, QuoteRef] = {}
        self.positions: dict[str, PositionRef] = {}
        self.account: AccountRef | None = None
        self.ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def apply(self, key: str, value: bytes | None) -> None:
        """Apply one KV entry (``None`` = deleted). Bad entries are logged and ignored, never fatal."""
        try:
            kind, symbol = parse_key(key)
        except ValueError:
            log.warning("refdata.unknown_key", key=key)
            return
        try:
            if kind == "account":
                self.account = None if value is None else AccountRef.model_validate_json(value)
            elif kind == "quotes":
                _put(self.quotes, symbol, None if value is None else QuoteRef.model_validate_json(value))
            elif kind == "positions":
                _put(self.positions, symbol, None if value is None else PositionRef.model_validate_json(value))
        except ValidationError as exc:
            log.warning("refdata.invalid_entry", key=key, error=str(exc)[:300])

    async def start(self, js: JetStreamContext) -> None:
        kv = await ensure_kv(js, REFDATA_BUCKET, "broker reference data, written by order-gateway")
        watcher = await kv.watchall()
        self._task = asyncio.create_task(self._follow(watcher), name="ticket-refdata-watch")
        await asyncio.wait_for(self.ready.wait(), timeout=10)

    async def _follow(self, watcher) -> None:  # type: ignore[no-untyped-def]
        async for entry in watcher:
            if entry is None:  # end of the initial values
                self.ready.set()
                log.info("refdata.loaded", quotes=len(self.quotes), positions=len(self.positions),
                         account=self.account is not None)
                continue
            deleted = entry.operation in (KV_DEL, KV_PURGE)
            self.apply(entry.key, None if deleted else entry.value)

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


def _put(table: dict, symbol: str | None, value: object) -> None:  # type: ignore[type-arg]
    assert symbol is not None
    if value is None:
        table.pop(symbol, None)
    else:
        table[symbol] = value
