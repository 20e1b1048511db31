"""The risk service's view of reference data: the runtime's live mirror of the ``REFDATA`` KV bucket, read as the
plain values the checks take (model.py). A missing entry stays missing: the checks reject with
REFERENCE_DATA_MISSING or *_STALE (by ``as_of``) rather than approving blind.
"""

from __future__ import annotations

from tradebus_runtime.refdata import RefDataMirror

from .model import Account, Asset, Quote


class RefData(RefDataMirror):
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
