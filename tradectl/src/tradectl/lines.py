"""One event, one line: how ``tail`` and ``replay`` print events (human-readable, or JSON lines with --json).

Most events show the fields worth a glance as ``key=value``; the position alerts (``PositionDrift``,
``PositionReconciled``) read as sentences, since a person has to act on them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tradebus_contracts import Envelope as Event
from tradebus_contracts import InvalidEvent, decode_event

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

    def matches(self, payload: dict[str, Any] | None) -> bool:
        if payload is None:
            return not (self.event_type or self.symbol or self.order_id)
        if self.event_type and payload.get("event_type") != self.event_type:
            return False
        if self.symbol and str(payload.get("symbol", "")).upper() != self.symbol.upper():
            return False
        if self.order_id and self.order_id not in (str(payload.get("order_id")), str(payload.get("correlation_id"))):
            return False
        return True


# What each drift policy did (PositionDrift.policy), said where the operator reads it.
_POLICY_MEANS = {
    "alert": "nothing changed",
    "adopt": "the ledger adopts the broker's figures",
    "reduce": "advisory: trading is unchanged; to allow only reductions: tradectl halt --reducing",
}


def _signed(value: Any) -> str:
    try:
        positive = Decimal(str(value)) > 0
    except ArithmeticError:
        positive = False
    return f"+{value}" if positive else str(value)


def _position_alert(data: dict[str, Any]) -> str | None:
    """The sentence of a position alert, or None for any other event."""
    kind = data.get("event_type")
    if kind == "PositionDrift":
        policy = str(data.get("policy", "alert"))
        return (f"DRIFT {str(data.get('severity', '?')).upper()}: ledger {data.get('ledger_qty')} vs broker "
                f"{data.get('broker_qty')} (difference {_signed(data.get('qty_diff'))}); cost basis ledger "
                f"{data.get('ledger_cost_basis')} vs broker {data.get('broker_cost_basis')}; "
                f"policy {policy}: {_POLICY_MEANS.get(policy, policy)}")
    if kind == "PositionReconciled":
        drift = data.get("drift_event_id")
        return (f"RECONCILED ({data.get('resolution')}): ledger now {data.get('qty')} at cost basis "
                f"{data.get('cost_basis')}" + (f"; drift {drift}" if drift else ""))
    return None


def _summary(data: dict[str, Any]) -> list[str]:
    parts = []
    if data.get("order_id"):
        parts.append(f"order={data['order_id']}")
    for name in _SUMMARY_FIELDS:
        value = data.get(name)
        if value not in (None, "", False):
            parts.append(f"{name}={value}")
    if data.get("reasons"):
        parts.append("reasons=" + ",".join(r.get("code", "?") for r in data["reasons"]))
    return parts


def human_line(subject: str, event: Event | None, payload: dict[str, Any] | None) -> str:
    """``HH:MM:SS.mmm  EventType  SYMBOL  key=value ...  [subject]`` (a position alert: a sentence instead of
    ``key=value``)."""
    if payload is None:
        return f"??:??:??.???  (undecodable)  [{subject}]"
    data = payload
    when = str(data.get("occurred_at", ""))[11:23] or "??:??:??.???"
    parts = [when, f"{data.get('event_type', '?'):<22}", f"{data.get('symbol', '-'):<6}"]
    alert = _position_alert(data)
    parts += [alert] if alert is not None else _summary(data)
    if event is None:
        parts.append("(not a valid tradebus event)")
    parts.append(f"[{subject}]")
    return "  ".join(parts)


def render(subject: str, data: bytes, as_json: bool, flt: TailFilter, *, seq: int | None = None) -> str | None:
    """The line for one message, or None when the filter leaves it out. ``seq`` (the audit trail's sequence) is
    added to JSON lines when known."""
    try:
        payload = json.loads(data)
        if not isinstance(payload, dict):
            payload = None
    except ValueError:
        payload = None
    if not flt.matches(payload):
        return None
    if as_json:
        record: dict[str, Any] = {} if seq is None else {"seq": seq}
        record |= {"subject": subject, "event": payload if payload is not None else data.decode("utf-8", "replace")}
        return json.dumps(record)
    event: Event | None
    try:
        event = decode_event(data)
    except InvalidEvent:
        event = None
    return human_line(subject, event, payload)
