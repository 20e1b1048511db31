"""Wiring of risk-service: settings, subscriptions and handlers in one place (the I/O edge).

Hot path, per fetched batch of ``OrderRequested`` (up to 64): one query for already-decided order_ids, the
checks in memory, one INSERT of all new decisions, then the publishes (concurrently), then the acks. No thread
hop, no per-message database round trip.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

from nats.aio.msg import Msg
from pydantic import Field, ValidationError

from tradebus_contracts import (
    CancelOutcome,
    CancelResult,
    OrderFields,
    OrderRequested,
    OrderStatusChanged,
    OrderSubmitted,
    RiskApproved,
    RiskRejected,
    SubmissionFailed,
)
from tradebus_contracts.envelope import Envelope
from tradebus_contracts.services import Service
from tradebus_contracts.signing import private_key_from_pem
from tradebus_contracts.subjects import RISK_LIMITS, RISK_PREVIEW, subject_filter
from tradebus_runtime import (
    Bus,
    Connections,
    ConsumerSpec,
    PoisonMessage,
    ServiceApp,
    ServiceSettings,
    Subscription,
    Wiring,
    get_logger,
    register_secret,
)
from tradebus_runtime.settings import load_settings
from tradebus_runtime.trading_state import TradingStateFollower

from .book import Book, trading_day_start
from .decider import Decider, Signer
from .limits import Limits, LimitsError, load_limits
from .refdata import RefData
from .store import DecisionStore, NewDecision, StoredDecision

SERVICE = Service.RISK
log = get_logger(__name__)


class RiskSettings(ServiceSettings):
    signing_key_path: Path = Field(validation_alias="RISK_SIGNING_KEY_PATH",
                                   description="PEM file of the Ed25519 approval signing key (tradectl keys gen-signing)")
    approval_ttl_s: float = Field(default=30.0, gt=0, le=3600, validation_alias="RISK_APPROVAL_TTL_S")
    limits_file: Path | None = Field(default=None, validation_alias="RISK_LIMITS_FILE")
    exposure_refresh_s: float = Field(default=5.0, gt=0, validation_alias="RISK_EXPOSURE_REFRESH_S")


def load_signer(settings: RiskSettings) -> Signer:
    path = settings.signing_key_path
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise SystemExit(f"risk-service: cannot read the signing key {path}: {exc.strerror}. "
                         "Create one with `tradectl keys gen-signing`.") from None
    register_secret(pem.decode(errors="replace").strip())
    try:
        key = private_key_from_pem(pem)
    except Exception:
        raise SystemExit(f"risk-service: {path} is not an Ed25519 private key in PEM form") from None
    return Signer(key, timedelta(seconds=settings.approval_ttl_s))


class RiskService:
    """The state the handlers share; built complete by `bootstrap` once the connections are open."""

    def __init__(self, bus: Bus, store: DecisionStore, limits: Limits, signer: Signer, settings: RiskSettings,
                 refdata: RefData, trading: TradingStateFollower) -> None:
        self.bus = bus
        self.store = store
        self.settings = settings
        self.limits = limits
        self.refdata = refdata
        self.trading = trading
        self.book = Book(throttle_window=limits.throttle_window)
        self.decider = Decider(limits, self.refdata, self.book, signer, self.trading)
        self._lock = asyncio.Lock()  # the book is read and refreshed by one coroutine at a time

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)

    async def refresh_book(self) -> None:
        async with self._lock:
            now = self.now()
            day_start = trading_day_start(now)
            self.book.load(await self.store.exposure(now, day_start), day_start)

    async def refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.exposure_refresh_s)
            await self.refresh_book()

    async def on_requests(self, items: Sequence[tuple[Envelope, Msg]]) -> list[Exception | None]:
        async with self._lock:
            return await self._decide_batch(items)

    async def _decide_batch(self, items: Sequence[tuple[Envelope, Msg]]) -> list[Exception | None]:
        """Decide, persist (one INSERT for the batch), publish, settle.

        Insert-first: a new order_id is the common case, so we decide and insert without asking first. An
        order_id that was already decided comes back from ``ON CONFLICT DO NOTHING``; it is answered with the
        stored decision instead, and our provisional effect on the book is undone.
        """
        outcomes: list[Exception | None] = [None] * len(items)
        provisional: dict[UUID, NewDecision] = {}  # first request per order_id in this batch
        slots: list[tuple[int, UUID, dict[str, object]]] = []  # (item, order_id, the fields this message asks)
        now = self.now()
        self.book.roll_day(now)
        for i, (request, _) in enumerate(items):
            if not isinstance(request, OrderRequested):
                outcomes[i] = PoisonMessage(f"{request.event_type} on an order-request subject")
                continue
            fields = request.order_fields().model_dump(mode="json")
            slots.append((i, request.order_id, fields))
            if request.order_id in provisional:
                continue
            decision, cost = self.decider.decide(request, now)
            provisional[request.order_id] = NewDecision(request.event_id, fields, decision, cost)
            if isinstance(decision, RiskApproved):
                self.book.record_approval(request.symbol, cost, now)
        inserted = await self.store.insert(list(provisional.values()))
        final = {oid: StoredDecision(oid, d.order_fields, d.event) for oid, d in provisional.items() if oid in inserted}
        lost = [d for oid, d in provisional.items() if oid not in inserted]
        if lost:
            for d in lost:
                if isinstance(d.event, RiskApproved):
                    self.book.undo_approval(d.event.symbol, d.estimated_cost)
            final.update(await self.store.find([d.event.order_id for d in lost]))
        to_publish: list[tuple[int, Envelope]] = []
        for i, order_id, fields in slots:
            known = final.get(order_id)
            if known is None:
                outcomes[i] = RuntimeError(f"decision for {order_id} neither inserted nor found")
            elif known.order_fields != fields:
                outcomes[i] = PoisonMessage(
                    f"order_id {order_id} was already decided for different order fields; "
                    "a new order needs a new order_id")
                log.warning("risk.order_id_reused", order_id=str(order_id))
            else:
                to_publish.append((i, known.event))
        results = await asyncio.gather(*(self.bus.publish(e) for _, e in to_publish), return_exceptions=True)
        for (i, event), result in zip(to_publish, results, strict=True):
            if isinstance(result, Exception):
                outcomes[i] = result  # stored already: the retry publishes the same decision
            else:
                _log_decision(event, repeated=event.causation_id != items[i][0].event_id)
        return outcomes

    async def on_order_event(self, event: Envelope, _: Msg) -> None:
        """Keep the book's open orders true: submitted, final, failed, cancelled before submit."""
        order_id = getattr(event, "order_id", None)
        if isinstance(event, OrderSubmitted):
            await self.store.mark_submitted(event.order_id, event.occurred_at)
            return
        closes = (
            (isinstance(event, OrderStatusChanged) and event.status.is_final)
            or isinstance(event, SubmissionFailed)
            or (isinstance(event, CancelResult) and event.outcome == CancelOutcome.CANCELED_BEFORE_SUBMIT)
        )
        if closes and order_id is not None and await self.store.mark_closed(order_id, event.occurred_at):
            async with self._lock:
                self.book.record_closed(event.symbol)  # type: ignore[attr-defined]

    async def preview(self, raw: bytes) -> dict[str, object]:
        """The ticket's estimate: the same checks as a real decision, nothing signed, stored or booked."""
        try:
            order = PreviewRequest.model_validate_json(raw).order_fields()
        except ValidationError as exc:
            return {"ok": False, "errors": [{"field": ".".join(str(p) for p in e["loc"]) or None, "message": e["msg"]}
                                            for e in exc.errors()]}
        verdict = self.decider.preview(order, self.now())
        account = self.refdata.account
        return {
            "ok": True,
            "approved": verdict.approved,
            "reasons": [r.model_dump(mode="json") for r in verdict.reasons],
            "estimated_cost": None if verdict.estimated_cost is None else str(verdict.estimated_cost),
            "price_basis": verdict.price_basis,
            "buying_power": None if account is None else str(account.buying_power),
            "trading_state": self.trading.state.value,
        }

    async def describe(self, _: bytes) -> dict[str, object]:
        return {
            "limits": self.limits.describe(),
            "trading_state": self.trading.state.value,
            "approval_ttl_s": self.settings.approval_ttl_s,
            "signing_key_id": self.decider.signer.key_id,
            "open_orders": self.book.open_total,
            "daily_notional_used": str(self.book.daily_total),
        }


class PreviewRequest(OrderFields):
    """An order to preview: the order fields, and the order_id the ticket will use (optional, unused here)."""

    order_id: UUID | None = None


def _log_decision(event: Envelope, *, repeated: bool) -> None:
    if isinstance(event, RiskApproved):
        log.info("risk.approved", order_id=str(event.order_id), symbol=event.symbol,
                 approval_id=str(event.approval_id), repeated=repeated)
    elif isinstance(event, RiskRejected):
        log.info("risk.rejected", order_id=str(event.order_id), symbol=event.symbol,
                 reasons=[r.code for r in event.reasons], repeated=repeated)


async def bootstrap(io: Connections, settings: RiskSettings, limits: Limits, signer: Signer) -> Wiring:
    refdata, trading = RefData(), TradingStateFollower()
    risk = RiskService(io.bus, DecisionStore(io.pool), limits, signer, settings, refdata, trading)
    await risk.refresh_book()
    await trading.start(io.bus.js)
    await refdata.start(io.bus.js)
    log.info("risk.limits", **limits.describe())
    log.info("risk.signing_key", key_id=signer.key_id, ttl_s=settings.approval_ttl_s)

    async def refdata_alive() -> bool:
        return refdata.alive

    return Wiring(
        consumers=[
            Subscription(ConsumerSpec(stream="ORDERS", durable=SERVICE, filter_subjects=(subject_filter("orders.requested"),),
                                      description="order requests to decide"),
                         batch_handler=risk.on_requests),
            Subscription(ConsumerSpec(stream="ORDERS", durable=f"{SERVICE}-orders",
                                      filter_subjects=tuple(subject_filter(k) for k in (
                                          "orders.submitted", "orders.status", "orders.failed", "orders.cancel_result")),
                                      description="order outcomes that close open approvals"),
                         risk.on_order_event),
        ],
        responders={RISK_LIMITS: risk.describe, RISK_PREVIEW: risk.preview},
        background={"refresh_book": risk.refresh_forever},
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
