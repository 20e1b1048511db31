"""Plain values shared by risk-service's unit tests: AAPL reference data as of ``NOW``, an active trading state and a
decider over them with a fresh signing key. No servers, no clock: ``now`` is a constant.

And the integration harness (``risk``): the real risk-service process against the session's NATS and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import nats
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from risk_service.book import Book, trading_day_start
from risk_service.decider import Decider, Signer
from risk_service.limits import Limits
from risk_service.model import Account, Asset, Quote
from tradebus_contracts import TradingState, decode_event, encode_event, subject_for
from tradebus_contracts import refdata as kv
from tradebus_contracts.signing import generate_private_key, public_key_from_b64
from tradebus_runtime.bus import ensure_kv, ensure_streams
from tradebus_runtime.health import NotHealthy, wait_until_healthy
from tradectl.keys import generate_signing_key
from tradectl.testing import exit_reason

NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


QUOTED = {"AAPL": ("187.20", "187.30"), "MSFT": ("250.00", "250.10")}


@dataclass
class FakeRefData:
    """AAPL (187.20 / 187.30) and MSFT (250.00 / 250.10) known, fresh and quoted; the account's buying power and
    the AAPL position as given (MSFT flat)."""

    buying_power: Decimal = Decimal("100000")
    position: Decimal = Decimal(0)
    shortable: bool = True
    position_as_of: datetime = NOW
    account_as_of: datetime = NOW

    def asset(self, symbol: str) -> Asset | None:
        return Asset(symbol, True, True, self.shortable, NOW) if symbol in QUOTED else None

    def quote(self, symbol: str) -> Quote | None:
        prices = QUOTED.get(symbol)
        return None if prices is None else Quote(symbol, Decimal(prices[0]), Decimal(prices[1]), None, NOW)

    def account_view(self) -> Account:
        return Account(self.buying_power, Decimal("100000"), self.account_as_of)

    def position_qty(self, symbol: str) -> Decimal:
        return self.position if symbol == "AAPL" else Decimal(0)

    def settled_as_of(self, symbol: str) -> datetime:
        return self.position_as_of

    def gross_exposure(self) -> Decimal:
        return Decimal(0)

    def take_changed(self) -> None:
        return None  # tests change the fields directly: any symbol may have changed


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
def trading() -> FakeTradingState:
    return FakeTradingState()


@pytest.fixture
def decider(refdata: FakeRefData, book: Book, signing_key: Ed25519PrivateKey, trading: FakeTradingState) -> Decider:
    return Decider(Limits(), refdata, book, Signer(signing_key, timedelta(seconds=30)), trading)


# --- the integration harness: risk-service as a real process ----------------------------------------------------

BIN = Path(sys.executable).parent


def utc_now() -> datetime:
    return datetime.now(UTC)


class Harness:
    """Drives a running risk-service: seeds reference data, sends requests and order outcomes, collects
    decisions. ``env`` is added to the service's environment."""

    def __init__(self, nats_url, database_url, tmp_path, env=None):
        self.env = env or {}
        self.nats_url = nats_url
        self.database_url = database_url
        self.tmp_path = tmp_path
        self.keys = generate_signing_key(tmp_path / "keys")
        self.trusted = {self.keys.key_id: public_key_from_b64(self.keys.public_b64)}
        self.proc = None
        self.decisions: asyncio.Queue = asyncio.Queue()
        self.log_path = tmp_path / "risk-service.log"

    async def open(self):
        self.nc = await nats.connect(self.nats_url)
        self.js = self.nc.jetstream()
        await ensure_streams(self.js)
        self.kv = await ensure_kv(self.js, kv.REFDATA_BUCKET)

        async def collect(msg):
            await self.decisions.put(decode_event(msg.data))

        await self.nc.subscribe("risk.>", cb=collect)
        await self.seed()

    async def seed(self, *, quote_age=timedelta(0), buying_power="100000", shortable=True):
        t = utc_now()
        await self.put(kv.asset_key("AAPL"), kv.AssetRef(symbol="AAPL", tradable=True, fractionable=True,
                                                         shortable=shortable, as_of=t))
        await self.put(kv.quote_key("AAPL"), kv.QuoteRef(symbol="AAPL", bid=Decimal("187.20"), ask=Decimal("187.30"),
                                                         last=Decimal("187.25"), as_of=t - quote_age))
        await self.put(kv.ACCOUNT_KEY, kv.AccountRef(buying_power=Decimal(buying_power), equity=Decimal("100000"),
                                                     cash=Decimal("100000"), as_of=t))

    async def set_position(self, qty, as_of=None):
        await self.put(kv.position_key("AAPL"), kv.PositionRef(symbol="AAPL", qty=Decimal(qty),
                                                               avg_entry_price=Decimal("180"),
                                                               market_value=Decimal(qty) * Decimal("187.25"),
                                                               as_of=as_of or utc_now()))

    async def put(self, key, ref):
        await self.kv.put(key, ref.model_dump_json().encode())

    def start(self):
        env = {**os.environ, "NATS_URL": self.nats_url, "DATABASE_URL": self.database_url,
               "RISK_SIGNING_KEY_PATH": str(self.keys.private_path), "PYTHONUNBUFFERED": "1",
               "RISK_EXPOSURE_REFRESH_S": "0.5", **self.env}
        self.proc = subprocess.Popen([str(BIN / "risk-service")], env=env, stdout=self.log_path.open("ab"),
                                     stderr=subprocess.STDOUT)

    async def healthy(self):
        try:
            await wait_until_healthy(self.nats_url, ["risk-service"], 15, exited=lambda _: exit_reason(self.proc))
        except NotHealthy as exc:
            raise AssertionError(f"{exc}\n" + self.log_path.read_text()[-3000:]) from None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            assert self.proc.wait(10) == 0

    async def request(self, event):
        """Publish an order request (or any event, e.g. an order outcome as the gateway would)."""
        await self.js.publish(subject_for(event), encode_event(event), headers={"Nats-Msg-Id": str(event.event_id)})

    async def decision_for(self, order_id, timeout=10):
        while True:
            event = await asyncio.wait_for(self.decisions.get(), timeout)
            if event.order_id == order_id:
                return event

    async def tradectl(self, *args):
        proc = await asyncio.create_subprocess_exec(
            str(BIN / "tradectl"), *args, env={**os.environ, "NATS_URL": self.nats_url},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        return out.decode()


@pytest.fixture
async def risk(nats_url, database_url, tmp_path, service_env):
    """The risk-service running and healthy, with ``service_env`` (the root conftest's; override in a module)."""
    h = Harness(nats_url, database_url, tmp_path, service_env)
    await h.open()
    h.start()
    await h.healthy()
    yield h
    h.stop()
    await h.nc.drain()
