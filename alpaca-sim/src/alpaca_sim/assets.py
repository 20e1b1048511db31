"""The simulated asset universe: US equities with Alpaca's asset flags and a starting price."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from decimal import Decimal

_ASSET_NAMESPACE = uuid.UUID("6f1c1f0e-5a8e-4f57-9c56-5a1f6b1b7a11")


@dataclass(frozen=True)
class Asset:
    symbol: str
    name: str
    exchange: str
    price: Decimal
    fractionable: bool = True
    tradable: bool = True
    shortable: bool = True
    easy_to_borrow: bool = True
    marginable: bool = True

    @property
    def id(self) -> str:
        return str(uuid.uuid5(_ASSET_NAMESPACE, self.symbol))

    @property
    def status(self) -> str:
        return "active" if self.tradable else "inactive"

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "class": "us_equity",
            "exchange": self.exchange,
            "symbol": self.symbol,
            "name": self.name,
            "status": self.status,
            "tradable": self.tradable,
            "marginable": self.marginable,
            "maintenance_margin_requirement": 30,
            "margin_requirement_long": "30",
            "margin_requirement_short": "30",
            "shortable": self.shortable,
            "easy_to_borrow": self.easy_to_borrow,
            "fractionable": self.fractionable,
            "attributes": ["fractional_eh_enabled"] if self.fractionable else [],
            "min_order_size": "0.001" if self.fractionable else "1",
            "min_trade_increment": "0.000000001" if self.fractionable else "1",
            "price_increment": "0.01",
        }


def _a(symbol: str, name: str, exchange: str, price: str, **flags: bool) -> Asset:
    return Asset(symbol, name, exchange, Decimal(price), **flags)


DEFAULT_UNIVERSE: tuple[Asset, ...] = (
    _a("AAPL", "Apple Inc. Common Stock", "NASDAQ", "190.00"),
    _a("MSFT", "Microsoft Corporation Common Stock", "NASDAQ", "415.00"),
    _a("GOOGL", "Alphabet Inc. Class A Common Stock", "NASDAQ", "170.00"),
    _a("AMZN", "Amazon.com, Inc. Common Stock", "NASDAQ", "185.00"),
    _a("META", "Meta Platforms, Inc. Class A Common Stock", "NASDAQ", "500.00"),
    _a("NVDA", "NVIDIA Corporation Common Stock", "NASDAQ", "120.00"),
    _a("TSLA", "Tesla, Inc. Common Stock", "NASDAQ", "240.00"),
    _a("NFLX", "Netflix, Inc. Common Stock", "NASDAQ", "650.00"),
    _a("AMD", "Advanced Micro Devices, Inc. Common Stock", "NASDAQ", "155.00"),
    _a("INTC", "Intel Corporation Common Stock", "NASDAQ", "22.00"),
    _a("JPM", "JPMorgan Chase & Co. Common Stock", "NYSE", "210.00"),
    _a("BAC", "Bank of America Corporation Common Stock", "NYSE", "40.00"),
    _a("XOM", "Exxon Mobil Corporation Common Stock", "NYSE", "115.00"),
    _a("KO", "Coca-Cola Company (The) Common Stock", "NYSE", "65.00"),
    _a("PFE", "Pfizer, Inc. Common Stock", "NYSE", "28.00"),
    _a("DIS", "Walt Disney Company (The) Common Stock", "NYSE", "95.00"),
    _a("WMT", "Walmart Inc. Common Stock", "NYSE", "80.00"),
    _a("V", "Visa Inc.", "NYSE", "280.00"),
    _a("F", "Ford Motor Company Common Stock", "NYSE", "11.00"),
    _a("SPY", "SPDR S&P 500 ETF Trust", "ARCA", "560.00"),
    _a("QQQ", "Invesco QQQ Trust, Series 1", "NASDAQ", "480.00"),
    _a("GME", "GameStop Corporation Common Stock", "NYSE", "25.00", easy_to_borrow=False, shortable=False),
    _a("SIRI", "Sirius XM Holdings Inc. Common Stock", "NASDAQ", "3.00", fractionable=False),
    _a("BRK.A", "Berkshire Hathaway Inc. Class A", "NYSE", "650000.00", fractionable=False, marginable=False),
    _a("SNDL", "SNDL Inc. Common Shares", "NASDAQ", "0.8500"),
    _a("TWTR", "Twitter, Inc. Common Stock", "NYSE", "53.70", tradable=False, shortable=False, easy_to_borrow=False),
)


class AssetBook:
    """Look-ups by symbol or asset id, as Alpaca's /v2/assets/{symbol_or_asset_id} does."""

    def __init__(self, assets: tuple[Asset, ...] = DEFAULT_UNIVERSE) -> None:
        self._by_symbol = {a.symbol: a for a in assets}
        self._by_id = {a.id: a for a in assets}
        self.renames: list[tuple[str, str]] = []  # (old, new) symbol changes, in order (saved with the state)
        self.listings: list[Asset] = []  # assets listed beyond the starting universe (saved with the state)

    def all(self) -> list[Asset]:
        return list(self._by_symbol.values())

    def find(self, symbol_or_id: str) -> Asset | None:
        key = (symbol_or_id or "").strip()
        return self._by_symbol.get(key.upper()) or self._by_id.get(key.lower())

    def add_listing(self, asset: Asset) -> Asset:
        """A new listing (a benchmark's thousand symbols): tradable like any other from now on."""
        if asset.symbol in self._by_symbol:
            raise ValueError(f"{asset.symbol} is already listed")
        self._by_symbol[asset.symbol] = self._by_id[asset.id] = asset
        self.listings.append(asset)
        return asset

    def rename(self, old: str, new: str) -> Asset:
        """A symbol change: the asset trades as ``new`` from now on (a new asset id); ``old`` stays listed, inactive,
        so the orders and activities that name it still resolve."""
        asset = self._by_symbol[old]
        renamed = replace(asset, symbol=new)
        retired = replace(asset, tradable=False, shortable=False, easy_to_borrow=False)
        self._by_symbol[old] = self._by_id[asset.id] = retired
        self._by_symbol[new] = self._by_id[renamed.id] = renamed
        self.renames.append((old, new))
        return renamed

    def cusip(self, symbol: str) -> str:
        """A stable, well-formed CUSIP for a symbol, kept across its symbol changes (the simulator has no real ones)."""
        for old, new in reversed(self.renames):
            if symbol == new:
                symbol = old
        digest = uuid.uuid5(_ASSET_NAMESPACE, "cusip:" + symbol).hex.upper()
        base = "99" + digest[:6]  # issuer numbers 99x are reserved for internal use: never a real security
        return base + _cusip_check_digit(base)


def _cusip_check_digit(base: str) -> str:
    """The CUSIP check digit (modulus 10, double every second character)."""
    total = 0
    for i, char in enumerate(base):
        value = int(char) if char.isdigit() else ord(char) - ord("A") + 10
        if i % 2:
            value *= 2
        total += value // 10 + value % 10
    return str((10 - total % 10) % 10)
