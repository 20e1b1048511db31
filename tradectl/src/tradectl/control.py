"""``tradectl halt`` / ``tradectl resume``: the kill switch, and ``tradectl risk limits`` (table: risk_limits.py).

The state is a ``TradingStateChanged`` event on ``control.trading_state`` (stream CONTROL, kept forever), so the
risk service reads it back after a restart and the AUDIT stream records who changed it, when and why.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import socket
import sys
import uuid

import nats

from tradebus_contracts import TradingState, TradingStateChanged, encode_event, subject_for
from tradebus_contracts.subjects import RISK_LIMITS

from . import access


def operator() -> str:
    try:
        user = getpass.getuser()
    except Exception:
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


async def set_trading_state(url: str, state: TradingState, reason: str) -> TradingStateChanged:
    event = TradingStateChanged(
        producer="tradectl",
        correlation_id=str(uuid.uuid4()),
        state=state,
        reason=reason,
        changed_by=operator(),
    )
    nc = await access.nats_connect(url, connect_timeout=5, max_reconnect_attempts=1)
    try:
        await nc.jetstream().publish(
            subject_for(event), encode_event(event), headers={"Nats-Msg-Id": str(event.event_id)}, timeout=5
        )
    finally:
        await nc.drain()
    return event


def run_state_change(url: str, state: TradingState, reason: str) -> int:
    try:
        event = asyncio.run(set_trading_state(url, state, reason))
    except Exception as exc:
        print(f"tradectl: could not publish the trading state ({type(exc).__name__}: {exc})", file=sys.stderr)
        return 1
    print(f"trading state is now {event.state.value.upper()} — {event.reason} (by {event.changed_by}, "
          f"event {event.event_id})")
    return 0


async def fetch_risk_limits(url: str) -> dict[str, object]:
    nc = await access.nats_connect(url, connect_timeout=5, max_reconnect_attempts=1)
    try:
        reply = await nc.request(RISK_LIMITS, b"{}", timeout=3)
    finally:
        await nc.close()
    return dict(json.loads(reply.data))


def run_risk_limits(url: str, as_json: bool = False) -> int:
    try:
        limits = asyncio.run(fetch_risk_limits(url))
    except nats.errors.NoRespondersError:
        print("tradectl: risk-service is not running (no responder on the limits subject)", file=sys.stderr)
        return 1
    except Exception as exc:
        print(f"tradectl: no answer from risk-service ({type(exc).__name__}: {exc})", file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps(limits, indent=2, sort_keys=True))
    else:
        from .risk_limits import limits_table

        print(limits_table(limits))
    return 0
