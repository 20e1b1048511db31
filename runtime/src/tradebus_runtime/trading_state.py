"""The kill switch as a service sees it: the latest ``TradingStateChanged`` on ``control.trading_state``.

Shared by the risk service (which decides) and the order gateway (which refuses to submit while HALTED, as
defence in depth). On start we read the last state back from the CONTROL stream (it keeps everything), so a
halt survives restarts of both the service and the bus; a core-NATS subscription to the subject, made before that
read, delivers every later change. With no state ever published, trading is ACTIVE.

Fail closed across reconnects. The subscription is a plain core one on purpose: nats-py sends it again as part of
every reconnect, before anything else goes out, so it is live again the moment the connection is. (A JetStream
ordered consumer, which we used before, notices a server restart only after missed heartbeats — ~18 s in which a
halt went unseen while the durable consumers had long resumed.) What was published while we were away is read
from the stream: a caller about to act on the state (risk deciding, the gateway before each POST) first awaits
`current`, which reads the state again unless it has been read since the last (re)connect — and while NATS is
away, or that read fails, raises `TradingStateUnknown` (a `DependencyUnavailable`: the message waits, nothing is
decided or sent on an old state). The subscription is in place before that read, so nothing falls between.
"""

from __future__ import annotations

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js.errors import NotFoundError

from tradebus_contracts import InvalidEvent, TradingState, TradingStateChanged, decode
from tradebus_contracts.subjects import TRADING_STATE

from .faults import DependencyUnavailable
from .logging import get_logger

log = get_logger(__name__)


class TradingStateUnknown(DependencyUnavailable):
    """The kill switch has not been read since NATS (re)connected, or cannot be: act on nothing until it is."""


class TradingStateFollower:
    def __init__(self) -> None:
        self.state = TradingState.ACTIVE
        self.last: TradingStateChanged | None = None
        self._sub = None
        self._nc: NatsClient | None = None  # set by start()
        self._read_at_reconnects = -1  # the client's reconnect count when the state was last read from the stream

    def apply(self, raw: bytes) -> None:
        try:
            event = decode(raw, TradingStateChanged)
        except InvalidEvent as exc:
            log.error("trading_state.invalid", error=str(exc)[:300])
            return
        if self.last is not None and (event.event_id == self.last.event_id or event.occurred_at < self.last.occurred_at):
            return  # a copy, or an older change arriving after a newer one (a stream read racing the subscription)
        self.last = event
        if event.state != self.state:
            log.warning("trading_state.changed", state=event.state.value, previous=self.state.value,
                        reason=event.reason, changed_by=event.changed_by)
        self.state = event.state

    async def start(self, nc: NatsClient) -> None:
        """Follow the subject, then read its last message: subscribing first means no change can slip between."""
        self._nc = nc

        async def on_msg(msg: Msg) -> None:
            self.apply(msg.data)

        self._sub = await nc.subscribe(TRADING_STATE, cb=on_msg)
        await self._read(nc)
        log.info("trading_state.loaded", state=self.state.value, source="stream" if self.last else "default (never set)")

    async def current(self) -> TradingState:
        """The state, read again first if NATS has (re)connected since it was last read (module docstring)."""
        nc = self._nc
        if nc is None:
            raise RuntimeError("TradingStateFollower.current() before start()")
        if not nc.is_connected:
            raise TradingStateUnknown("NATS is not connected: the trading state cannot be confirmed")
        if self._read_at_reconnects != nc.stats["reconnects"]:
            try:
                await self._read(nc)
            except Exception as exc:
                raise TradingStateUnknown(f"the trading state could not be read again after a reconnect: "
                                          f"{type(exc).__name__}: {exc}") from exc
            log.info("trading_state.confirmed_after_reconnect", state=self.state.value)
        return self.state

    async def _read(self, nc: NatsClient) -> None:
        """Read the last state from the stream (a change the subscription delivered too is ignored as a copy)."""
        reconnects = nc.stats["reconnects"]
        try:
            last = await nc.jetstream().get_last_msg("CONTROL", TRADING_STATE)
        except NotFoundError:
            pass  # never set: ACTIVE
        else:
            self.apply(last.data)
        self._read_at_reconnects = reconnects

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()
