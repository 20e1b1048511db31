"""Wiring of order-gateway: settings, credentials, the broker, subscriptions and background tasks, in one place."""

from __future__ import annotations

import asyncio
from typing import Literal

from nats.aio.msg import Msg
from pydantic import Field

from tradebus_contracts.envelope import Envelope
from tradebus_contracts.signing import trusted_keys
from tradebus_contracts.subjects import subject_filter
from tradebus_runtime import ConsumerSpec, ServiceApp, ServiceSettings, get_logger, register_secret, vault
from tradebus_runtime.outbox import Outbox
from tradebus_runtime.settings import load_settings
from tradebus_runtime.trading_state import TradingStateFollower

from .broker import Broker
from .cancels import Canceller
from .context import Context
from .credentials import resolve_credentials
from .ratelimit import RateLimiter
from .refdata import RefDataPublisher
from .submitter import Submitter
from .tracker import Poller, StreamFeed

SERVICE = "order-gateway"
log = get_logger(__name__)


class GatewaySettings(ServiceSettings):
    mode: Literal["paper", "live"] = Field(default="paper", validation_alias="TRADEBUS_MODE")
    broker: Literal["simulator", "alpaca"] = Field(default="alpaca", validation_alias="TRADEBUS_BROKER")
    broker_url: str | None = Field(default=None, validation_alias="BROKER_URL",
                                   description="override of Alpaca's trading URL (alpaca-sim's URL for the simulator)")
    account: str = Field(default="default", validation_alias="GATEWAY_ACCOUNT")
    trusted_keys: str = Field(default="", validation_alias="GATEWAY_TRUSTED_KEYS",
                              description="comma-separated base64 Ed25519 public keys of the risk service")
    poll_interval_s: float = Field(default=2.0, gt=0, validation_alias="GATEWAY_POLL_INTERVAL_S")
    silent_after_s: float = Field(default=30.0, gt=0, validation_alias="GATEWAY_SILENT_AFTER_S")
    sweep_after_s: float = Field(default=10.0, gt=0, validation_alias="GATEWAY_SWEEP_AFTER_S")
    quote_interval_s: float = Field(default=2.0, gt=0, validation_alias="GATEWAY_QUOTE_INTERVAL_S")
    account_interval_s: float = Field(default=5.0, gt=0, validation_alias="GATEWAY_ACCOUNT_INTERVAL_S")
    quote_symbols: str = Field(default="", validation_alias="GATEWAY_QUOTE_SYMBOLS")
    rate_limit_per_min: int = Field(default=200, gt=0, validation_alias="GATEWAY_RATE_LIMIT_PER_MIN")
    broker_timeout_s: float = Field(default=10.0, gt=0, validation_alias="GATEWAY_BROKER_TIMEOUT_S")
    stream: bool = Field(default=True, validation_alias="GATEWAY_STREAM",
                         description="follow trade_updates (polling runs regardless)")


class Gateway:
    """Holds what is built at start-up (it needs the pool and the bus) and dispatches to it."""

    def __init__(self, settings: GatewaySettings, live: bool) -> None:
        self.settings = settings
        self.live = live
        self.trading = TradingStateFollower()
        self.ctx: Context | None = None
        self.submitter: Submitter | None = None
        self.canceller: Canceller | None = None
        self.feed: StreamFeed | None = None
        self.poller: Poller | None = None
        self.refdata: RefDataPublisher | None = None

    async def start(self, app: ServiceApp) -> None:
        s = self.settings
        assert app.pool is not None and app.bus is not None and app.health is not None
        try:
            trusted = trusted_keys(k.strip() for k in s.trusted_keys.split(",") if k.strip())
        except ValueError as exc:
            raise SystemExit(f"order-gateway: GATEWAY_TRUSTED_KEYS holds something that is not an Ed25519 public "
                             f"key ({exc})") from None
        if not trusted:
            raise SystemExit("order-gateway: no trusted approval keys (GATEWAY_TRUSTED_KEYS): it would refuse every "
                             "approval. Give it the risk service's public key (tradectl keys gen-signing prints it).")
        try:
            key_id, secret = await resolve_credentials(app.pool, s.tradebus_home, s.account, s.mode,
                                                       simulator=s.broker == "simulator")
        except vault.CredentialError as exc:
            raise SystemExit(f"order-gateway: {exc}") from None
        register_secret(secret)
        paper = s.mode == "paper"
        broker = Broker(key_id, secret, s.broker_url, paper=paper, timeout_s=s.broker_timeout_s)
        outbox = Outbox(app.pool, app.bus)
        self.ctx = Context(app.pool, app.bus, broker, outbox, self.trading, trusted, RateLimiter(s.rate_limit_per_min))
        self.submitter = Submitter(self.ctx)
        self.canceller = Canceller(self.ctx)
        await self.trading.start(app.bus.js)
        watch = {x.strip().upper() for x in s.quote_symbols.split(",") if x.strip()}
        self.refdata = RefDataPublisher(self.ctx, watch=watch, quote_interval_s=s.quote_interval_s,
                                        account_interval_s=s.account_interval_s)
        await self.refdata.start()
        self.poller = Poller(self.ctx, s.poll_interval_s, s.silent_after_s, s.sweep_after_s)
        if s.stream:
            stream_url = None
            if s.broker_url:
                stream_url = s.broker_url.replace("http://", "ws://").replace("https://", "wss://").rstrip("/") + "/stream"
            self.feed = StreamFeed(self.ctx, key_id, secret, stream_url, paper)
        await outbox.flush()  # whatever a crash left unpublished
        log.warning("gateway.mode", mode=s.mode, broker=s.broker, broker_url=s.broker_url or "alpaca default",
                    account=s.account, trusted_key_ids=sorted(trusted), live=self.live)

    async def stop(self, _: ServiceApp) -> None:
        if self.feed is not None:
            await self.feed.stop()
        if self.ctx is not None:
            self.ctx.broker.close()

    async def on_approval(self, event: Envelope, msg: Msg) -> None:
        assert self.submitter is not None
        await self.submitter.on_approval(event, msg)

    async def on_cancel(self, event: Envelope, msg: Msg) -> None:
        assert self.canceller is not None
        await self.canceller.on_cancel(event, msg)

    async def stream_forever(self, _: ServiceApp) -> None:
        if self.feed is not None:
            await self.feed.run()
        else:
            await asyncio.Event().wait()  # polling only

    async def poll_forever(self, _: ServiceApp) -> None:
        assert self.poller is not None
        await self.poller.run()

    async def refdata_forever(self, _: ServiceApp) -> None:
        assert self.refdata is not None
        await self.refdata.run()

    async def relay_forever(self, _: ServiceApp) -> None:
        assert self.ctx is not None
        await self.ctx.outbox.relay_forever()


def check_mode(settings: GatewaySettings, live: bool) -> None:
    """Paper by default (AC-21.1.4): live needs the flag AND live mode, and never runs against the simulator."""
    if live and settings.mode != "live":
        raise SystemExit("order-gateway: --live given but TRADEBUS_MODE is not 'live'; refusing to guess")
    if settings.mode == "live" and not live:
        raise SystemExit("order-gateway: TRADEBUS_MODE=live needs the explicit --live flag; refusing to trade "
                         "real money without it")
    if settings.mode == "live" and settings.broker == "simulator":
        raise SystemExit("order-gateway: live mode cannot use the simulator")


def build_app(settings: GatewaySettings | None = None, *, live: bool = False) -> ServiceApp:
    settings = settings or load_settings(GatewaySettings, SERVICE)
    check_mode(settings, live)
    app = ServiceApp(SERVICE, settings, migrations_package="order_gateway")
    gateway = Gateway(settings, live)
    app.on_startup(gateway.start)
    app.on_shutdown(gateway.stop)
    app.consume(
        ConsumerSpec(stream="RISK", durable=SERVICE, filter_subjects=(subject_filter("risk.approved"),),
                     description="signed approvals to submit", max_deliver=10, backoff_s=(1.0, 2.0, 5.0, 10.0, 30.0),
                     batch=16),
        gateway.on_approval,
    )
    app.consume(
        ConsumerSpec(stream="ORDERS", durable=f"{SERVICE}-cancel", filter_subjects=(subject_filter("orders.cancel"),),
                     description="cancel requests", max_deliver=20, backoff_s=(0.5, 1.0, 2.0, 5.0), batch=16),
        gateway.on_cancel,
    )
    app.background(gateway.stream_forever)
    app.background(gateway.poll_forever)
    app.background(gateway.refdata_forever)
    app.background(gateway.relay_forever)
    return app
