"""The bootstrap of risk-service: its settings, the signing key and the limits, read and checked at start, and the
one place where the pieces are built, complete, once the connections are open (cosmicpython's ``bootstrap.py``).

What runs: the request consumer, the order-outcome consumer and the fill consumer (``handlers``), the preview and
limits responders (``responders``), the book refresh, the reference-data watch as a health check.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from pydantic import Field

from tradebus_contracts.consumers import RISK_FILLS, RISK_ORDER_OUTCOMES, RISK_REQUESTS
from tradebus_contracts.envelope import utc_now
from tradebus_contracts.projection import SETTLE_MARGIN
from tradebus_contracts.services import Service
from tradebus_contracts.subjects import RISK_LIMITS, RISK_PREVIEW
from tradebus_contracts.trading_day import trading_day_start
from tradebus_runtime import (
    Connections,
    ConsumerSpec,
    ServiceApp,
    ServiceSettings,
    Subscription,
    Wiring,
    get_logger,
)
from tradebus_runtime.keys import load_signing_key
from tradebus_runtime.settings import load_settings
from tradebus_runtime.trading_state import TradingStateFollower

from .book import Book
from .decider import Decider, Signer
from .handlers import RiskHandlers
from .limits import Limits, LimitsError, load_limits
from .refdata import RefData
from .responders import RiskResponders
from .store import DecisionStore

SERVICE = Service.RISK
log = get_logger(__name__)


class RiskSettings(ServiceSettings):
    signing_key_path: Path = Field(
        validation_alias="RISK_SIGNING_KEY_PATH",
        description="PEM file of the Ed25519 approval signing key (tradectl keys gen-signing)")
    approval_ttl_s: float = Field(default=30.0, gt=0, le=3600, validation_alias="RISK_APPROVAL_TTL_S")
    limits_file: Path | None = Field(default=None, validation_alias="RISK_LIMITS_FILE")
    exposure_refresh_s: float = Field(
        default=60.0, gt=0, validation_alias="RISK_EXPOSURE_REFRESH_S",
        description="how often the book is reloaded from PostgreSQL as a safety net (it is kept exact in between)")
    fill_settle_margin_s: float = Field(
        default=SETTLE_MARGIN.total_seconds(), ge=0, le=600, validation_alias="RISK_FILL_SETTLE_MARGIN_S",
        description="the longest the gateway's positions request takes: a settled position stamped this long after "
                    "a fill was recorded has it (tradebus_contracts.projection)")


def load_signer(settings: RiskSettings) -> Signer:
    key = load_signing_key(settings.signing_key_path, service=SERVICE, what="signing key",
                           create_with="tradectl keys gen-signing")
    return Signer(key, timedelta(seconds=settings.approval_ttl_s))


async def bootstrap(io: Connections, settings: RiskSettings, limits: Limits, signer: Signer) -> Wiring:
    refdata, trading = RefData(), TradingStateFollower()
    book = Book(limits.throttle_window, trading_day_start(utc_now()), timedelta(seconds=settings.fill_settle_margin_s))
    decider = Decider(limits, refdata, book, signer, trading)
    async def fills_pending() -> int:
        info = await io.bus.js.consumer_info(RISK_FILLS.stream, RISK_FILLS.name)
        return (info.num_pending or 0) + (info.num_ack_pending or 0)

    handlers = RiskHandlers(io.bus, DecisionStore(io.pool), decider, settings.exposure_refresh_s,
                            settled_floor=refdata.settled_floor, confirm_state=trading.current,
                            fills_pending=fills_pending)
    responders = RiskResponders(decider)
    await handlers.refresh_book()
    await trading.start(io.bus.nc)
    await refdata.start(io.bus.js)
    log.info("risk.limits", **limits.describe())
    log.info("risk.signing_key", key_id=signer.key_id, ttl_s=settings.approval_ttl_s)

    async def refdata_alive() -> bool:
        return refdata.alive

    return Wiring(
        consumers=[
            Subscription(ConsumerSpec.of(RISK_REQUESTS), batch_handler=handlers.on_requests),
            Subscription(ConsumerSpec.of(RISK_ORDER_OUTCOMES), batch_handler=handlers.on_order_events),
            Subscription(ConsumerSpec.of(RISK_FILLS), handlers.on_fill),
        ],
        responders={RISK_LIMITS: responders.limits_report, RISK_PREVIEW: responders.preview},
        background={"refresh_book": handlers.refresh_forever},
        checks={"refdata_watch": refdata_alive},
        on_stop=[trading.stop, refdata.stop],
    )


def build_app(settings: RiskSettings | None = None) -> ServiceApp:
    settings = settings or load_settings(RiskSettings, SERVICE)
    try:
        limits = load_limits(settings.limits_file, os.environ)
    except LimitsError as exc:
        raise SystemExit(f"risk-service: invalid risk limits: {exc}") from None
    signer = load_signer(settings)

    async def wire(io: Connections) -> Wiring:
        return await bootstrap(io, settings, limits, signer)

    return ServiceApp(SERVICE, settings, wire, migrations_package="risk_service")
