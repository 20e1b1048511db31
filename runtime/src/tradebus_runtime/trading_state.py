"""The kill switch as a service sees it: the latest ``TradingStateChanged`` on ``control.trading_state``.

Shared by the risk service (which decides) and the order gateway (which refuses to submit while HALTED, as
defence in depth). On start we read the last state back from the CONTROL stream (it keeps everything), so a
halt survives restarts of both the service and the bus; then an ordered consumer follows every later change.
With no state ever published, trading is ACTIVE.
"""

from __future__ import annotations

from nats.aio.msg import Msg
from nats.js import JetStreamContext, api
from nats.js.errors import NotFoundError

from tradebus_contracts import InvalidEvent, TradingState, TradingStateChanged, decode
from tradebus_contracts.subjects import TRADING_STATE

from .logging import get_logger

log = get_logger(__name__)


class TradingStateFollower:
    def __init__(self) -> None:
        self.state = TradingState.ACTIVE
        self.last: TradingStateChanged | None = None
        self._sub = None

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

    async def start(self, js: JetStreamContext) -> None:
        """Follow the subject from its last message on; subscribing first means no change can slip between."""

        async def on_msg(msg: Msg) -> None:
            self.apply(msg.data)

        self._sub = await js.subscribe(
            TRADING_STATE, stream="CONTROL", cb=on_msg, ordered_consumer=True,
            deliver_policy=api.DeliverPolicy.LAST_PER_SUBJECT,
        )
        try:
            last = await js.get_last_msg("CONTROL", TRADING_STATE)
        except NotFoundError:
            log.info("trading_state.default", state=self.state.value, source="default (never set)")
        else:
            self.apply(last.data)  # the subscription delivers it too; apply() ignores the second copy
            log.info("trading_state.loaded", state=self.state.value)

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()
