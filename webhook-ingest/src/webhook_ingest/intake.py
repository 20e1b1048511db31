"""One webhook, from its bytes to its answer: verify, recognise a repeat, map, publish, remember.

The order is what makes it exactly once and lossless:

1. verify (headers, timestamp, signature over the raw bytes) and parse — a refusal is 400/401 and changes nothing;
2. a ``webhook-id`` already remembered is answered 200 and changes nothing (senders retry for days with the same id
   and a fresh timestamp, so ids are remembered for good);
3. publish — the `BrokerTradeUpdate`, or for a body that verifies but cannot be mapped its dead letter — and wait
   for JetStream's acknowledgement;
4. remember the id, then answer 2xx (200 accepted, 202 dead-lettered: kept, and not worth a retry).

If NATS or PostgreSQL cannot be reached the answer is 503 with ``Retry-After``: the sender retries with the same id.
A crash (or an outage) between 3 and 4 is harmless: the retry publishes the same event id, which JetStream's
duplicate window drops, and the gateway counts each execution once anyway. The I/O sits behind two small ports
(`Deliveries`, `Publisher`), so this sequence is unit-tested with fakes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol
from uuid import UUID

from tradebus_contracts import Envelope, subject_for
from tradebus_runtime import get_logger
from tradebus_runtime.crashpoints import crash_point

from .mapping import Unmappable, dead_letter, parse_body, to_trade_update
from .verify import Refused, Verified, Verifier

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Delivery:
    """What is remembered of a webhook-id, permanently."""

    webhook_id: str
    outcome: Literal["published", "dead_lettered"]
    event_id: UUID
    subject: str
    reason: str | None
    signed_at: datetime


class Unavailable(Exception):
    """NATS or PostgreSQL did not answer: the sender should retry later."""


class Deliveries(Protocol):
    async def seen(self, webhook_id: str) -> bool: ...

    async def remember(self, delivery: Delivery) -> None:
        """Idempotent: remembering an id twice keeps the first."""


class Publisher(Protocol):
    async def publish(self, event: Envelope) -> None:
        """Returns once JetStream has stored the event (PubAck); raises `Unavailable` otherwise."""


def to_bus(verified: Verified, parsed: Any, body: bytes, received_at: datetime) -> tuple[Envelope, Delivery]:
    """What goes on the bus for a verified body — its BrokerTradeUpdate, or its dead letter — and what is remembered."""
    mapped = to_trade_update(parsed, verified.webhook_id, received_at)
    signed_at = datetime.fromtimestamp(verified.timestamp, UTC)
    if isinstance(mapped, Unmappable):
        letter = dead_letter(verified, body, mapped.reason)
        return letter, Delivery(verified.webhook_id, "dead_lettered", letter.event_id, subject_for(letter),
                                mapped.reason, signed_at)
    return mapped, Delivery(verified.webhook_id, "published", mapped.event_id, subject_for(mapped), None, signed_at)


class Intake:
    def __init__(self, verifier: Verifier, deliveries: Deliveries, publisher: Publisher,
                 clock: Callable[[], datetime], retry_after_s: int) -> None:
        self._verifier = verifier
        self._deliveries = deliveries
        self._publisher = publisher
        self._clock = clock
        self._retry_after_s = retry_after_s

    async def receive(self, headers: Mapping[str, str], body: bytes) -> Answer:
        if not self._verifier.configured:
            return self._unavailable("NOT_CONFIGURED", "no webhook secrets are configured: nothing can be verified")
        now = self._clock()
        try:
            verified = self._verifier.verify(headers, body, now.timestamp())
            parsed = parse_body(verified.text)
        except Refused as refusal:
            log.info("webhook.refused", status=refusal.status, code=refusal.code)
            return Answer(refusal.status, {"code": refusal.code, "message": refusal.message})
        webhook_id = verified.webhook_id
        event, delivery = to_bus(verified, parsed, body, now)
        try:
            if await self._deliveries.seen(webhook_id):
                log.debug("webhook.duplicate", webhook_id=webhook_id)
                return Answer(200, {"status": "duplicate", "webhook_id": webhook_id})
            await self._publisher.publish(event)
            crash_point("webhook.after_puback")  # stored on the bus, the id not yet remembered: the retry re-publishes
            await self._deliveries.remember(delivery)
        except Unavailable as exc:
            log.warning("webhook.unavailable", webhook_id=webhook_id, error=str(exc))
            return self._unavailable("UNAVAILABLE", "the event bus or the database is unavailable; retry later")
        if delivery.reason is not None:
            log.warning("webhook.dead_lettered", webhook_id=webhook_id, reason=delivery.reason)
            return Answer(202, {"status": "dead_lettered", "webhook_id": webhook_id, "message": delivery.reason})
        # debug, not info: the deliveries table and the BROKER stream already record every accepted webhook, and a
        # log line per webhook cost ~0.1 ms of its ~0.6 ms (bench/webhooks.py); what needs attention is logged above
        log.debug("webhook.accepted", webhook_id=webhook_id, subject=delivery.subject, event_id=str(event.event_id))
        return Answer(200, {"status": "accepted", "webhook_id": webhook_id, "event_id": str(event.event_id)})

    def _unavailable(self, code: str, message: str) -> Answer:
        return Answer(503, {"code": code, "message": message}, {"Retry-After": str(self._retry_after_s)})
