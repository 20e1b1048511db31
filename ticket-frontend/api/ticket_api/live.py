"""``GET /api/events``: every order, risk, fill and position event and every change of the trading state (the kill
switch, ``control.trading_state``) as it happens, as server-sent events.

Core NATS subscriptions (not JetStream consumers): a browser tab wants what happens from now on, and a tab
that goes away must leave nothing behind on the server. One SSE message per event (``event: <EventType>``,
``data: <the event JSON as on the bus>``), a keep-alive comment every 15 s. A client too slow to keep up
loses the oldest events first rather than growing the server's memory; it can re-read an order's state from
``GET /api/orders/{order_id}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from sse_starlette.sse import EventSourceResponse, ServerSentEvent

from tradebus_contracts.services import Service
from tradebus_contracts.topology import CHANNELS
from tradebus_runtime import get_logger

log = get_logger(__name__)

# every channel the ticket consumes (the topology's table, which its NATS permissions are derived from as well)
LIVE_SUBJECTS = tuple(c.subject_filter for c in CHANNELS if Service.TICKET_API in c.consumers)
KEEP_ALIVE_S = 15.0
QUEUE_SIZE = 1000


def event_type_of(data: bytes) -> str | None:
    try:
        body = json.loads(data)
    except ValueError:
        return None
    kind = body.get("event_type") if isinstance(body, dict) else None
    return kind if isinstance(kind, str) and kind.isidentifier() else None


async def follow(nc: NatsClient, subjects: tuple[str, ...] = LIVE_SUBJECTS) -> AsyncIterator[ServerSentEvent]:
    """The events on ``subjects`` as SSE messages, until the consumer of this iterator stops."""
    queue: asyncio.Queue[Msg] = asyncio.Queue(maxsize=QUEUE_SIZE)

    async def enqueue(msg: Msg) -> None:
        if queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                queue.get_nowait()
        queue.put_nowait(msg)

    subs = [await nc.subscribe(subject, cb=enqueue) for subject in subjects]
    log.info("sse.client_connected", subjects=list(subjects))
    try:
        while True:
            msg = await queue.get()
            kind = event_type_of(msg.data)
            if kind is not None:
                yield ServerSentEvent(data=msg.data.decode(errors="replace"), event=kind)
    finally:
        for sub in subs:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        log.info("sse.client_gone")


def event_stream(nc: NatsClient) -> EventSourceResponse:
    return EventSourceResponse(follow(nc), ping=KEEP_ALIVE_S, headers={"Cache-Control": "no-cache",
                                                                       "X-Accel-Buffering": "no"})
