"""The kill switch as a service sees it: the latest ``TradingStateChanged`` on ``control.trading_state``.

Shared by the risk service (which decides) and the order gateway (which refuses to submit while HALTED, as
defence in depth). On start we read the last state back from the CONTROL stream (it keeps everything), so a
halt survives restarts of both the service and the bus; then an ordered consumer follows every later change.
With no state ever published, trading is ACTIVE.

Fail closed across reconnects: after NATS drops and comes back, the ordered consumer may take many seconds to notice
it missed something and catch up, while the durable consumers resume at once. So a caller about to act on the state
(risk deciding, the gateway before each POST) first awaits `current`: unless the state has been read from the
stream since the last (re)connect, it reads it again — and while NATS is away, or that read fails, it raises
`TradingStateUnknown` (a `DependencyUnavailable`: the message waits, nothing is decided or sent on an old state).
"""

from __future__ import annotations

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api
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
        self._js: JetStreamContext | None = None
        self._nc: NatsClient | None = None
        self._read_at_reconnects = -1  # the client's reconnect count when the state was last read from the stream

    def apply(self, raw: bytes) -> None:
        try:
            event = decode(raw, TradingStateChanged)
        except InvalidEvent as exc:
            log.error("trading_state.invalid", error=str(exc)[:300])
            return
        if self.last is not None and event.event_id == self.last.event_id:
            return
        self.last = event
        if event.state != self.state:
            log.warning("trading_state.changed", state=event.state.value, previous=self.state.value,
                        reason=event.reason, changed_by=event.changed_by)
        self.state = event.state

    async def start(self, nc: NatsClient) -> None:
        """Follow the subject from its last message on; subscribing first means no change can slip between."""
        js = self._js = nc.jetstream()
        self._nc = nc

        async def on_msg(msg: Msg) -> None:
            self.apply(msg.data)

        self._sub = await js.subscribe(
            TRADING_STATE, stream="CONTROL", cb=on_msg, ordered_consumer=True,
            deliver_policy=api.DeliverPolicy.LAST_PER_SUBJECT,
        )
        await self._read()
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
                await self._read()
            except Exception as exc:
                raise TradingStateUnknown(f"the trading state could not be read again after a reconnect: "
                                          f"{type(exc).__name__}: {exc}") from exc
            log.info("trading_state.confirmed_after_reconnect", state=self.state.value)
        return self.state

    async def _read(self) -> None:
        """Read the last state from the stream (the subscription delivers it too; apply() ignores the copy)."""
        assert self._js is not None and self._nc is not None
        reconnects = self._nc.stats["reconnects"]
        try:
            last = await self._js.get_last_msg("CONTROL", TRADING_STATE)
        except NotFoundError:
            pass  # never set: ACTIVE
        else:
            self.apply(last.data)
        self._read_at_reconnects = reconnects

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()
