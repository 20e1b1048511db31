"""The trade_updates websocket at /stream, spoken as Alpaca's paper endpoint and alpaca-py's TradingStream do.

Protocol: client sends {"action":"authenticate","data":{"key_id","secret_key"}}, gets
{"stream":"authorization","data":{"action":"authenticate","status":"authorized"}}; then
{"action":"listen","data":{"streams":["trade_updates"]}} -> {"stream":"listening","data":{"streams":[...]}};
then every trade update arrives as {"stream":"trade_updates","data":{...}}. Frames are binary JSON, as Alpaca's are.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from .errors import BrokerError
from .logs import log

QUEUE_LIMIT = 10_000


class StreamHub:
    """Fans trade updates out to every listening connection without ever blocking the matcher."""

    def __init__(self) -> None:
        self._listeners: set[asyncio.Queue] = set()
        self._sockets: set[WebSocket] = set()

    def publish(self, update: dict) -> None:
        message = {"stream": "trade_updates", "data": update}
        for queue in list(self._listeners):
            if queue.qsize() < QUEUE_LIMIT:
                queue.put_nowait(message)

    def listen(self, queue: asyncio.Queue) -> None:
        self._listeners.add(queue)

    def forget(self, queue: asyncio.Queue) -> None:
        self._listeners.discard(queue)

    @property
    def connections(self) -> int:
        return len(self._listeners)

    def attach(self, ws: WebSocket) -> None:
        self._sockets.add(ws)

    def detach(self, ws: WebSocket, queue: asyncio.Queue) -> None:
        self._sockets.discard(ws)
        self._listeners.discard(queue)

    async def drop_all(self) -> None:
        """Close every open stream (an injected outage); clients reconnect as they would after a network cut."""
        for ws in list(self._sockets):
            with contextlib.suppress(Exception):
                await ws.close(code=1011)


async def frames(ws: WebSocket) -> AsyncIterator[dict[str, Any]]:
    """The client's frames as Starlette receives them, until it disconnects (both of the simulator's websockets)."""
    while True:
        raw = await ws.receive()
        if raw["type"] == "websocket.disconnect":
            return
        yield raw


async def _send(ws: WebSocket, message: dict) -> None:
    await ws.send_bytes(json.dumps(message).encode())


async def _pump(ws: WebSocket, queue: asyncio.Queue) -> None:
    while True:
        await _send(ws, await queue.get())


def _credentials(message: dict) -> tuple[str | None, str | None]:
    data = message.get("data") if isinstance(message.get("data"), dict) else message
    key, secret = data.get("key_id") or data.get("key"), data.get("secret_key") or data.get("secret")
    return (key if isinstance(key, str) else None), (secret if isinstance(secret, str) else None)


def _streams(message: dict) -> list[str]:
    data = message.get("data")
    streams = data.get("streams") if isinstance(data, dict) else None
    return ["trade_updates"] if isinstance(streams, list) and "trade_updates" in streams else []


async def stream_endpoint(ws: WebSocket) -> None:
    sim = ws.app.state.sim
    fault = sim.faults.take("GET", "/stream", after_effect=False)
    if fault is not None:
        log.info("fault_injected", path="/stream", fault=fault.to_json())
        await asyncio.sleep(fault.delay_ms / 1000)
        if fault.status:
            await ws.close(code=1013)
            return
    await ws.accept()
    queue: asyncio.Queue = asyncio.Queue()
    pump = asyncio.create_task(_pump(ws, queue))
    sim.hub.attach(ws)
    authorized = False
    try:
        async for raw in frames(ws):
            try:
                message = json.loads(raw.get("text") or raw.get("bytes") or b"")
                action = message.get("action")
            except (ValueError, AttributeError, TypeError):
                await _send(ws, {"stream": "error", "data": {"error_message": "invalid message"}})
                continue
            if action in ("authenticate", "auth"):
                try:
                    sim.credentials.check(*_credentials(message))
                    authorized = True
                    await _send(ws, {"stream": "authorization", "data": {"action": "authenticate", "status": "authorized"}})
                except BrokerError:
                    log.info("stream_unauthorized")
                    await _send(ws, {"stream": "authorization", "data": {"action": "authenticate", "status": "unauthorized"}})
                    await ws.close(code=1008)
                    break
            elif action == "listen":
                if not authorized:
                    await _send(ws, {"stream": "authorization", "data": {"action": "listen", "status": "unauthorized"}})
                    continue
                chosen = _streams(message)
                (sim.hub.listen if chosen else sim.hub.forget)(queue)
                log.info("stream_listening", streams=chosen)
                await _send(ws, {"stream": "listening", "data": {"streams": chosen}})
            else:
                await _send(ws, {"stream": "error", "data": {"error_message": f"invalid action: {action}"}})
    except WebSocketDisconnect:
        pass
    finally:
        sim.hub.detach(ws, queue)
        pump.cancel()


ROUTES = [WebSocketRoute("/stream", stream_endpoint)]
