"""``tradectl tail``: live events from the bus, one line each (or JSON lines with --json)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import nats
from nats.aio.msg import Msg

from tradebus_contracts import Envelope as Event
from tradebus_contracts import InvalidEvent, decode_event

DEFAULT_SUBJECTS = ("orders.>", "risk.>", "fills.>", "positions.>", "control.>", "dlq.>", "broker.>", "audit.>")

# Fields worth a glance, in the order they are shown after the event type and symbol.
_SUMMARY_FIELDS = (
    "side", "qty", "notional", "type", "time_in_force", "limit_price", "stop_price", "previous_status", "status",
    "filled_qty", "execution_id", "price", "cum_qty", "outcome", "state", "broker_order_id", "code", "message",
    "reason", "original_subject",
)


@dataclass(frozen=True)
class TailFilter:
    event_type: str | None = None
    symbol: str | None = None
    order_id: str | None = None

    def matches(self, payload: dict[str, Any]) -> bool:
        if self.event_type and payload.get("event_type") != self.event_type:
            return False
        if self.symbol and str(payload.get("symbol", "")).upper() != self.symbol.upper():
            return False
        if self.order_id and self.order_id not in (str(payload.get("order_id")), str(payload.get("correlation_id"))):
            return False
        return True


def human_line(subject: str, event: Event | None, payload: dict[str, Any] | None) -> str:
    """``HH:MM:SS.mmm  EventType  SYMBOL  key=value ...  [subject]``."""
    if payload is None:
        return f"??:??:??.???  (undecodable)  [{subject}]"
    data = payload
    when = str(data.get("occurred_at", ""))[11:23] or "??:??:??.???"
    parts = [when, f"{data.get('event_type', '?'):<22}", f"{data.get('symbol', '-'):<6}"]
    if data.get("order_id"):
        parts.append(f"order={data['order_id']}")
    for name in _SUMMARY_FIELDS:
        value = data.get(name)
        if value not in (None, "", False):
            parts.append(f"{name}={value}")
    if data.get("reasons"):
        parts.append("reasons=" + ",".join(r.get("code", "?") for r in data["reasons"]))
    if event is None:
        parts.append("(not a valid tradebus event)")
    parts.append(f"[{subject}]")
    return "  ".join(parts)


def render(msg: Msg, as_json: bool, flt: TailFilter) -> str | None:
    try:
        payload = json.loads(msg.data)
        if not isinstance(payload, dict):
            payload = None
    except ValueError:
        payload = None
    event: Event | None
    try:
        event = decode_event(msg.data)
    except InvalidEvent:
        event = None
    if payload is not None and not flt.matches(payload):
        return None
    if payload is None and (flt.event_type or flt.symbol or flt.order_id):
        return None
    if as_json:
        return json.dumps({"subject": msg.subject, "event": payload if payload is not None else msg.data.decode("utf-8", "replace")})
    return human_line(msg.subject, event, payload)


async def tail(
    url: str,
    subjects: Sequence[str],
    flt: TailFilter,
    as_json: bool,
    count: int | None = None,
    out: TextIO = sys.stdout,
) -> int:
    nc = await nats.connect(url, name="tradectl-tail", connect_timeout=5)
    shown = 0
    done = asyncio.Event()

    async def on_msg(msg: Msg) -> None:
        nonlocal shown
        line = render(msg, as_json, flt)
        if line is None or done.is_set():
            return
        print(line, file=out, flush=True)
        shown += 1
        if count is not None and shown >= count:
            done.set()

    for subject in subjects:
        await nc.subscribe(subject, cb=on_msg)
    await nc.flush()
    print(f"tailing {', '.join(subjects)} on {url} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    try:
        await done.wait()
    finally:
        await nc.drain()
    return 0
