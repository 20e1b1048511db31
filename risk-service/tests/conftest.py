"""Plain values shared by risk-service's unit tests: AAPL reference data as of ``NOW``, an active trading state and a
decider over them with a fresh signing key. No servers, no clock: ``now`` is a constant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from risk_service.book import Book, trading_day_start
from risk_service.decider import Decider, Signer
from risk_service.limits import Limits
from risk_service.model import Account, Asset, Quote
from tradebus_contracts import TradingState
from tradebus_contracts.signing import generate_private_key

NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


@dataclass
class FakeRefData:
    """AAPL known, fresh and quoted 187.20 / 187.30; the account's buying power and the AAPL position as given."""

    buying_power: Decimal = Decimal("100000")
    position: Decimal = Decimal(0)

    def asset(self, symbol: str) -> Asset | None:
        return Asset("AAPL", True, True, True, NOW) if symbol == "AAPL" else None

    def quote(self, symbol: str) -> Quote | None:
        return Quote("AAPL", Decimal("187.20"), Decimal("187.30"), None, NOW) if symbol == "AAPL" else None

    def account_view(self) -> Account:
        return Account(self.buying_power, Decimal("100000"), NOW)

    def position_qty(self, symbol: str) -> Decimal:
        return self.position if symbol == "AAPL" else Decimal(0)

    def gross_exposure(self) -> Decimal:
        return Decimal(0)


@dataclass
class FakeTradingState:
    state: TradingState = TradingState.ACTIVE


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def refdata() -> FakeRefData:
    return FakeRefData()


@pytest.fixture
def signing_key() -> Ed25519PrivateKey:
    return generate_private_key()


@pytest.fixture
def book() -> Book:
    return Book(throttle_window=timedelta(seconds=1), day_start=trading_day_start(NOW))


@pytest.fixture
def decider(refdata: FakeRefData, book: Book, signing_key: Ed25519PrivateKey) -> Decider:
    return Decider(Limits(), refdata, book, Signer(signing_key, timedelta(seconds=30)), FakeTradingState())
