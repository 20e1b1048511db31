"""The broker's account activities on the bus: each one published once as `BrokerActivity` (DESIGN §4, §5.9).

position-sync-service books corporate actions and dividends from these, and it holds no broker credentials: the
gateway reads ``GET /v2/account/activities`` for it (`ActivityFeed`, every ``GATEWAY_ACTIVITY_INTERVAL_S`` and at
once on start) and publishes every activity it has not published before on ``broker.activities.<TYPE>.<SYMBOL>``
(stream BROKER), raw fields kept.

Exactly once, across crashes: an activity's ``event_id`` is uuid5 of its broker id, and its id goes into
``activities_published`` only after the publish was acknowledged. A crash in between publishes it again with the
same ``event_id``: JetStream's duplicate window (2 minutes) drops the copy, position-sync's inbox any later one.

Where a read resumes: the highest stored id is Alpaca's sortable ``YYYYMMDDHHMMSSmmm::uuid``; the next read asks for
everything created after that moment minus ``GATEWAY_ACTIVITY_OVERLAP_S`` (ascending, paged with ``page_token``) and
skips the ids already published. The overlap re-reads the recent past on purpose: an activity that becomes visible
late with an earlier creation time (a batch of non-trade activities) is still found. An activity that cannot be an
event (a type or symbol the contracts refuse) is dead-lettered on ``dlq.order-gateway`` with the reason, recorded
as such, and not read again.

``correlation_id`` is our order_id when the activity is a FILL of one of our orders (its ``order_id`` is the
broker's id of an order in ``orders``), else the activity id. Every broker call takes a rate-limiter token
(broker.py).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import asyncpg
from pydantic import ValidationError

from tradebus_contracts.events import BrokerActivity, DeadLetter
from tradebus_contracts.services import Service
from tradebus_contracts.subjects import ACTIVITIES
from tradebus_runtime import get_logger
from tradebus_runtime.bus import Bus

from .broker import Broker, BrokerError, parse_time

log = get_logger(__name__)

PAGE_SIZE = 100  # Alpaca's maximum page of activities
ACTIVITY_NAMESPACE = uuid.UUID("0c5d3f4e-8a51-4b1e-9d2f-6b7a1c2e3f40")
Source = Literal["rest", "stream", "rebuild"]


class UnpublishableActivity(ValueError):
    """An activity no `BrokerActivity` can carry (no type, a type or symbol outside the contracts)."""


# ---- pure ----------------------------------------------------------------------------------------------------------


def activity_event_id(activity_id: str) -> uuid.UUID:
    """The event id of an activity, the same on every read: a re-read is a duplicate, not a new fact."""
    return uuid.uuid5(ACTIVITY_NAMESPACE, activity_id)


def activity_event(raw: Mapping[str, Any], *, source: Source, order_id: uuid.UUID | None) -> BrokerActivity:
    """One raw activity as the event that carries it. A symbol the contracts cannot carry (a crypto pair) goes to
    the no-symbol subject, the raw body still names it."""
    activity_id = str(raw.get("id") or "")
    details = raw.get("details") if isinstance(raw.get("details"), Mapping) else {}
    fields: dict[str, Any] = {
        "event_id": activity_event_id(activity_id),
        "occurred_at": occurred_at(raw),
        "producer": Service.GATEWAY,
        "correlation_id": str(order_id) if order_id is not None else activity_id,
        "activity_id": activity_id,
        "activity_type": str(raw.get("activity_type") or ""),
        "activity_subtype": raw.get("activity_sub_type") or raw.get("activity_subtype") or None,
        "symbol": raw.get("symbol") or None,
        "group_id": raw.get("group_id") or details.get("group_id") or None,
        "source": source,
        "activity": dict(raw),
    }
    try:
        return BrokerActivity(**fields)
    except ValidationError as first:
        if fields["symbol"] is None or any(e["loc"][:1] != ("symbol",) for e in first.errors()):
            raise UnpublishableActivity(_reason(first)) from None
    try:
        return BrokerActivity(**{**fields, "symbol": None})
    except ValidationError as second:
        raise UnpublishableActivity(_reason(second)) from None


def occurred_at(raw: Mapping[str, Any]) -> datetime:
    """When the activity happened: a fill's transaction time, a non-trade activity's creation time or date, else the
    timestamp its id starts with (never "now": a re-read must be the same event, byte for byte)."""
    for key in ("transaction_time", "created_at", "date"):
        try:
            moment = parse_time(raw.get(key))
        except (TypeError, ValueError):
            moment = None
        if moment is not None:
            return moment
    return id_time(str(raw.get("id") or "")) or datetime(1970, 1, 1, tzinfo=UTC)


def id_time(activity_id: str) -> datetime | None:
    """``"20261201143000123::…"`` → 2026-12-01 14:30:00.123 UTC; None for an id of another shape."""
    stamp = activity_id.partition("::")[0]
    if len(stamp) != 17 or not stamp.isdigit():
        return None
    try:
        return datetime.strptime(stamp + "000", "%Y%m%d%H%M%S%f").replace(tzinfo=UTC)
    except ValueError:
        return None


def resume_params(last_id: str | None, overlap_s: float) -> dict[str, str]:
    """Where the next read starts: nothing stored → the whole history; else created after the last id's moment
    minus the overlap (or strictly after the id itself, when it carries no moment)."""
    if last_id is None:
        return {}
    moment = id_time(last_id)
    if moment is None:
        return {"page_token": last_id}
    return {"after": (moment - timedelta(seconds=overlap_s)).strftime("%Y-%m-%dT%H:%M:%SZ")}


def _reason(error: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())[:500]


# ---- I/O -----------------------------------------------------------------------------------------------------------


class ActivityFeed:
    def __init__(self, pool: asyncpg.Pool, bus: Bus, broker: Broker, *, interval_s: float, overlap_s: float) -> None:
        self.pool = pool
        self.bus = bus
        self.broker = broker
        self.interval_s = interval_s
        self.overlap_s = overlap_s

    async def run(self) -> None:
        while True:
            try:
                await self.poll_once()
            except BrokerError as exc:  # the next round reads again from the stored cursor: nothing is skipped
                log.warning("gateway.activities_read_failed", error=exc.message, status=exc.status)
            await asyncio.sleep(self.interval_s)

    async def poll_once(self) -> int:
        """Read every activity from the resume point on, page by page; publish the new ones. Returns how many."""
        params: dict[str, Any] = {"direction": "asc", "page_size": PAGE_SIZE,
                                  **resume_params(await self._last_id(), self.overlap_s)}
        published = 0
        while True:
            page = await self.broker.activities(params)
            published += await self._publish_new(page)
            last = str(page[-1].get("id") or "") if page else ""
            if len(page) < PAGE_SIZE or not last or last == params.get("page_token"):
                if published:
                    log.info("gateway.activities_published", count=published, through=last or None)
                return published
            params = {**params, "page_token": last}

    async def _publish_new(self, page: Sequence[Mapping[str, Any]]) -> int:
        ids = [str(a["id"]) for a in page if a.get("id")]
        if len(ids) < len(page):
            log.warning("gateway.activity_without_id", count=len(page) - len(ids))
        known = {r["activity_id"] for r in await self.pool.fetch(
            "SELECT activity_id FROM activities_published WHERE activity_id = ANY($1::text[])", ids)}
        fresh = [a for a in page if a.get("id") and str(a["id"]) not in known]
        if not fresh:
            return 0
        ours = await self._our_orders({str(a["order_id"]) for a in fresh if a.get("activity_type") == "FILL"
                                       and a.get("order_id")})
        done: list[tuple[str, str, uuid.UUID, str]] = []
        try:
            for raw in fresh:
                done.append(await self._publish(raw, ours.get(str(raw.get("order_id")))))
        finally:  # what was acknowledged is recorded even when a later publish fails
            await self._record(done)
        return sum(1 for row in done if row[3] == "published")

    async def _publish(self, raw: Mapping[str, Any], order_id: uuid.UUID | None) -> tuple[str, str, uuid.UUID, str]:
        activity_id = str(raw["id"])
        try:
            event = activity_event(raw, source="rest", order_id=order_id)
        except UnpublishableActivity as exc:
            letter = DeadLetter.from_raw(service=Service.GATEWAY, original_subject=ACTIVITIES, reason=str(exc),
                                         payload=json.dumps(raw, default=str).encode(), producer=Service.GATEWAY,
                                         correlation_id=activity_id)
            letter = letter.model_copy(update={"event_id": activity_event_id(activity_id)})
            await self.bus.publish(letter)
            log.warning("gateway.activity_dead_lettered", activity_id=activity_id, reason=str(exc))
            return activity_id, str(raw.get("activity_type") or ""), letter.event_id, "dead_lettered"
        await self.bus.publish(event)
        log.debug("gateway.activity_published", activity_id=activity_id, activity_type=event.activity_type,
                  symbol=event.symbol, correlation_id=event.correlation_id)
        return activity_id, event.activity_type, event.event_id, "published"

    async def _last_id(self) -> str | None:
        return await self.pool.fetchval("SELECT max(activity_id) FROM activities_published")

    async def _our_orders(self, broker_order_ids: set[str]) -> dict[str, uuid.UUID]:
        if not broker_order_ids:
            return {}
        rows = await self.pool.fetch("SELECT broker_order_id, order_id FROM orders WHERE broker_order_id = ANY($1)",
                                     sorted(broker_order_ids))
        return {r["broker_order_id"]: r["order_id"] for r in rows}

    async def _record(self, rows: list[tuple[str, str, uuid.UUID, str]]) -> None:
        if not rows:
            return
        await self.pool.execute(
            """INSERT INTO activities_published (activity_id, activity_type, event_id, outcome)
               SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[], $4::text[]) ON CONFLICT DO NOTHING""",
            [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows])
