"""Wiring of order-gateway: settings, credentials, the broker, subscriptions and background tasks, in one place."""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import Field

from tradebus_contracts.consumers import GATEWAY_APPROVALS, GATEWAY_CANCELS, GATEWAY_TRADE_UPDATES
from tradebus_contracts.refdata import REFDATA_BUCKET, REFDATA_DESCRIPTION
from tradebus_contracts.services import Service
from tradebus_contracts.signing import trusted_keys
from tradebus_contracts.subjects import GATEWAY_FILLS_HISTORY, GATEWAY_POSITIONS
from tradebus_runtime import (
    Connections,
    ConsumerSpec,
    ServiceApp,
    ServiceSettings,
    Subscription,
    Wiring,
    get_logger,
    register_secret,
    vault,
)
from tradebus_runtime.bus import ensure_kv
from tradebus_runtime.outbox import Outbox
from tradebus_runtime.settings import load_settings
from tradebus_runtime.trading_state import TradingStateFollower

from .activities import ActivityFeed
from .approvals import ApprovalHandler
from .broker import Broker
from .cancels import CancelHandler
from .context import Context, SystemClock
from .credentials import resolve_credentials
from .followers import Poller, StreamFeed, WebhookUpdates
from .group_commit import GroupCommit
from .market_stream import MarketStream, QuotePacer, QuoteWriter, market_data_url
from .positions import BrokerPositions
from .refdata import RefDataPublisher
from .rpc import BrokerReads

SERVICE = Service.GATEWAY
BACKGROUND_BROKER_CALLS = 4  # broker threads beyond the submits: polling, reference data, activities, cancels
BACKGROUND_DB_USERS = 6  # cancels, trade updates, outbox relay, activities, reference data, responders
log = get_logger(__name__)
APPROVALS = ConsumerSpec.of(GATEWAY_APPROVALS, max_deliver=10, backoff_s=(1.0, 2.0, 5.0, 10.0, 30.0), batch=16)
CANCELS = ConsumerSpec.of(GATEWAY_CANCELS, max_deliver=20, backoff_s=(0.5, 1.0, 2.0, 5.0), batch=16)
WEBHOOK_UPDATES = ConsumerSpec.of(GATEWAY_TRADE_UPDATES, max_deliver=10, backoff_s=(0.5, 1.0, 2.0, 5.0, 10.0),
                                  batch=64)


class GatewaySettings(ServiceSettings):
    mode: Literal["paper", "live"] = Field(default="paper", validation_alias="TRADEBUS_MODE")
    broker: Literal["simulator", "alpaca"] = Field(default="alpaca", validation_alias="TRADEBUS_BROKER")
    broker_url: str | None = Field(default=None, validation_alias="BROKER_URL",
                                   description="override of Alpaca's trading URL (alpaca-sim's URL for the simulator)")
    account: str = Field(default="default", validation_alias="GATEWAY_ACCOUNT")
    trusted_keys: str = Field(default="", validation_alias="GATEWAY_TRUSTED_KEYS",
                              description="comma-separated base64 Ed25519 public keys of the risk service")
    poll_interval_s: float = Field(default=2.0, gt=0, validation_alias="GATEWAY_POLL_INTERVAL_S")
    silent_after_s: float = Field(default=30.0, gt=0, validation_alias="GATEWAY_SILENT_AFTER_S",
                                  description="an order submitted longer ago than this is resting: polled at the "
                                              "resting interval")
    resting_poll_interval_s: float = Field(default=15.0, gt=0, validation_alias="GATEWAY_RESTING_POLL_INTERVAL_S",
                                           description="how often the open orders are listed when all are resting")
    clock_interval_s: float = Field(default=60.0, gt=0, validation_alias="GATEWAY_CLOCK_INTERVAL_S",
                                    description="how often the broker's clock is read into REFDATA")
    sweep_after_s: float = Field(default=10.0, gt=0, validation_alias="GATEWAY_SWEEP_AFTER_S")
    quote_interval_s: float = Field(default=2.0, gt=0, validation_alias="GATEWAY_QUOTE_INTERVAL_S")
    account_interval_s: float = Field(default=15.0, gt=0, validation_alias="GATEWAY_ACCOUNT_INTERVAL_S")
    quote_symbols: str = Field(default="", validation_alias="GATEWAY_QUOTE_SYMBOLS")
    rate_limit_per_min: int = Field(default=200, gt=0, validation_alias="GATEWAY_RATE_LIMIT_PER_MIN")
    broker_timeout_s: float = Field(default=10.0, gt=0, validation_alias="GATEWAY_BROKER_TIMEOUT_S")
    submit_concurrency: int = Field(default=8, ge=1, le=64, validation_alias="GATEWAY_SUBMIT_CONCURRENCY",
                                    description="approvals worked on at once (each order still one at a time)")
    landing_margin_s: float = Field(default=30.0, ge=0, validation_alias="GATEWAY_LANDING_MARGIN_S",
                                    description="after the broker timeout, how long a POST we gave up on may still "
                                                "land: a pending order is failed only after both")
    approval_max_deliver: int = Field(
        default=APPROVALS.max_deliver, ge=1, validation_alias="GATEWAY_APPROVAL_MAX_DELIVER",
        description="failures of an approval before it is dead-lettered; a dependency away (broker, PostgreSQL, "
                    "NATS) is waited out and never counts")
    late_watch_s: float = Field(default=300.0, ge=0, validation_alias="GATEWAY_LATE_WATCH_S",
                                description="how long after an order was recorded failed polling still looks for it "
                                            "among the broker's recent orders (a POST that landed after all)")
    stream: bool = Field(default=True, validation_alias="GATEWAY_STREAM",
                         description="follow trade_updates (polling runs regardless)")
    quote_stream: bool = Field(default=True, validation_alias="GATEWAY_QUOTE_STREAM",
                               description="live quotes from the market-data websocket (REST polls what it lacks)")
    quote_feed: Literal["iex", "sip"] = Field(default="iex", validation_alias="GATEWAY_QUOTE_FEED")
    quote_writes_per_s: float = Field(default=4.0, gt=0, validation_alias="GATEWAY_QUOTE_WRITES_PER_S",
                                      description="REFDATA writes per symbol per second at most (bursts of 2)")
    activity_interval_s: float = Field(default=15.0, gt=0, validation_alias="GATEWAY_ACTIVITY_INTERVAL_S",
                                       description="how often account activities are read and published")
    activity_overlap_s: float = Field(default=300.0, ge=0, validation_alias="GATEWAY_ACTIVITY_OVERLAP_S",
                                      description="each read re-reads this much before the last activity published, "
                                                  "for activities that become visible late")


async def bootstrap(io: Connections, s: GatewaySettings, live: bool) -> Wiring:
    """Build the gateway complete from the open connections: keys, credentials, broker, handlers, loops."""
    trusted = _trusted_keys(s)
    try:
        key_id, secret = await resolve_credentials(io.pool, s.tradebus_home, s.account, s.mode,
                                                   simulator=s.broker == "simulator")
    except vault.CredentialError as exc:
        raise SystemExit(f"order-gateway: {exc}") from None
    register_secret(secret)
    paper = s.mode == "paper"
    broker = Broker(key_id, secret, s.broker_url, paper=paper, requests_per_min=s.rate_limit_per_min,
                    timeout_s=s.broker_timeout_s, workers=s.submit_concurrency + BACKGROUND_BROKER_CALLS)
    outbox = Outbox(io.pool, io.bus)
    ctx = Context(io.pool, broker, outbox, SystemClock(), GroupCommit(io.pool))
    trading = TradingStateFollower()
    await trading.start(io.bus.nc)
    positions = BrokerPositions()
    approvals = ApprovalHandler(ctx, trusted, trading, positions)
    cancels = CancelHandler(ctx)
    webhook_updates = WebhookUpdates(ctx)
    kv = await ensure_kv(io.bus.js, REFDATA_BUCKET, REFDATA_DESCRIPTION)
    watch = {x.strip().upper() for x in s.quote_symbols.split(",") if x.strip()}
    quotes = QuoteWriter(kv, QuotePacer(s.quote_writes_per_s))
    market = MarketStream(quotes, key_id, secret, feed=s.quote_feed, url=market_data_url(s.broker_url, s.quote_feed)) \
        if s.quote_stream else None
    refdata = RefDataPublisher(broker, kv, positions, watch=watch, quote_interval_s=s.quote_interval_s,
                               account_interval_s=s.account_interval_s, clock_interval_s=s.clock_interval_s,
                               quotes=quotes, live=market)
    await refdata.start(io.bus.nc)
    poller = Poller(ctx, s.poll_interval_s, s.silent_after_s, s.sweep_after_s,
                    landing_window_s=s.broker_timeout_s + s.landing_margin_s,
                    resting_interval_s=s.resting_poll_interval_s, late_watch_s=s.late_watch_s)
    await outbox.flush()  # whatever a crash left unpublished
    log.warning("gateway.mode", mode=s.mode, broker=s.broker, broker_url=s.broker_url or "alpaca default",
                account=s.account, trusted_key_ids=sorted(trusted), live=live)

    async def close_broker() -> None:
        broker.close()

    wiring = Wiring(
        consumers=[Subscription(replace(APPROVALS, concurrency=s.submit_concurrency,
                                              max_deliver=s.approval_max_deliver), approvals.on_approval),
                   Subscription(CANCELS, cancels.on_cancel),
                   Subscription(WEBHOOK_UPDATES, webhook_updates.on_update)],
        background={"poll": poller.run, "refdata": refdata.run, "outbox_relay": outbox.relay_forever},
        on_stop=[close_broker, quotes.close],
    )
    if market is not None:
        wiring += Wiring(background={"market_data": market.run}, on_stop=[market.stop])
    if s.stream:
        feed = StreamFeed(ctx, key_id, secret, _stream_url(s.broker_url), paper)
        wiring += Wiring(background={"trade_updates": feed.run}, on_stop=[feed.stop])
    activities = ActivityFeed(io.pool, io.bus, broker, interval_s=s.activity_interval_s,
                              overlap_s=s.activity_overlap_s)
    reads = BrokerReads(broker)
    wiring += Wiring(responders={GATEWAY_POSITIONS: reads.positions, GATEWAY_FILLS_HISTORY: reads.fills_history},
                     background={"activities": activities.run, "sessions": refdata.run_sessions})
    return wiring


def _trusted_keys(s: GatewaySettings) -> dict[str, Ed25519PublicKey]:
    try:
        trusted = trusted_keys(k.strip() for k in s.trusted_keys.split(",") if k.strip())
    except ValueError as exc:
        raise SystemExit(f"order-gateway: GATEWAY_TRUSTED_KEYS holds something that is not an Ed25519 public "
                         f"key ({exc})") from None
    if not trusted:
        raise SystemExit("order-gateway: no trusted approval keys (GATEWAY_TRUSTED_KEYS): it would refuse every "
                         "approval. Give it the risk service's public key (tradectl keys gen-signing prints it).")
    return trusted


def _stream_url(broker_url: str | None) -> str | None:
    """The trade_updates websocket next to an overridden trading URL (alpaca-sim's); None: Alpaca's own."""
    if not broker_url:
        return None
    return broker_url.replace("http://", "ws://").replace("https://", "wss://").rstrip("/") + "/stream"


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

    async def wire(io: Connections) -> Wiring:
        return await bootstrap(io, settings, live)

    return ServiceApp(SERVICE, settings, wire, migrations_package="order_gateway",
                      pool_size=pool_size_for(settings.submit_concurrency))


def pool_size_for(concurrency: int) -> int:
    """PostgreSQL connections for ``concurrency`` approvals at once: each holds its broker lease's connection and
    may take one more; the sweeper likewise; the other loops one each. Sized so that lease holders can never take
    every connection and wait on each other."""
    return 2 * (concurrency + 1) + BACKGROUND_DB_USERS
