"""Submitting an approved order exactly once (DESIGN §5.1, §5.2; STYLE §5). One approval, top to bottom:

1. decide — the gate (signature, expiry, trading state, REDUCING against the position and the gateway's own orders
   still working in the symbol, read in the transaction that locks the row) and the plan given the row we hold
   (pure: gate.py, decisions.py). A refusal is recorded, logged and dead-lettered, never retried;
2. record — the order row is written ``pending`` BEFORE the broker is called. A new order's row is written by the
   statement that takes its broker lease, only where no row exists (a cancel that came first has written one;
   "cancel before submit" and "submit" serialise on the row's key); any other is decided and written in the
   transaction that locks the row (a cancel takes the same lock), shared with the approvals being worked on beside
   it (group_commit.py);
3. call the broker — `submit_at_broker`: the POST (alpaca-py's own retries off, a timeout, the rate limiter inside
   the adapter). On an ambiguous outcome (timeout, 5xx, 429, a crash, the redelivery of a pending order) the
   broker is asked by client_order_id before anything is sent again; a duplicate-id 422 means "already there:
   fetch it". Resending after "not found" is safe only because client_order_id is derived from order_id: the
   broker itself refuses a second order with the same id. A definitive 4xx is a refusal;
4. record — submitted (``OrderSubmitted`` and the first status; when the row is still as step 2 wrote it, one
   statement that also ends the lease) or failed (``SubmissionFailed``): recording.py.

Never given up while it may exist: once a POST may have been sent (any attempt, or a pending row found on a
redelivery), "not found" proves nothing until the last moment that POST could have landed; an order that can no
longer be sent is then left ``pending`` (`Unsettled`) for the sweeper (followers.py), which fails it only when the
broker still says "not found" after the landing window. A halt is re-read before every POST attempt, and a
``Retry-After`` is honoured up to `MAX_RETRY_AFTER_S`. A genuine approval that can no longer be used (expired,
halted) ends its order with ``SubmissionFailed`` instead of a dead letter (decisions.ENDS_THE_ORDER).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from asyncpg import Connection
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from nats.aio.msg import Msg

from tradebus_contracts import RiskApproved, TradingState, client_order_id_for, signed_order
from tradebus_contracts.envelope import Envelope
from tradebus_contracts.projection import SETTLE_MARGIN, Working, in_settled
from tradebus_runtime import PoisonMessage, expect, get_logger
from tradebus_runtime.crashpoints import crash_point
from tradebus_runtime.faults import DependencyUnavailable
from tradebus_runtime.trading_state import TradingStateFollower

from . import gate, store
from .broker import Broker, BrokerError, BrokerOrder, BrokerRateLimited, BrokerRejected
from .context import Clock, Context
from .decisions import Action, Plan, plan
from .model import BrokerCall
from .positions import BrokerPositions
from .recording import confirm_recorded, confirm_submitted, fail_pending, fail_unsent

log = get_logger(__name__)
MAX_ATTEMPTS = 5
MAX_RETRY_AFTER_S = 10.0  # a broker's Retry-After beyond this is not waited out while holding the approval
EXPIRED_UNSENT = "the approval expired before the order reached the broker; nothing was submitted"
HALTED_UNSENT = "trading was halted before the order was sent; nothing was submitted"

Audit = Callable[[BrokerCall], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Placed:
    """The broker has the order: from the answer to our POST (``call="submit"``) or from a lookup."""

    order: BrokerOrder
    call: str


@dataclass(frozen=True, slots=True)
class NotPlaced:
    """The broker refused the order for good, or it was not there and can no longer be sent."""

    http_status: int | None
    code: int | None
    message: str


@dataclass(frozen=True, slots=True)
class Unsettled:
    """Not found at the broker, but an earlier POST may still land, and this one may not be sent again (expired,
    halted): the row stays pending and the sweeper settles it after the landing window."""

    message: str


class SubmitNotConfirmed(DependencyUnavailable):
    """The broker could not be reached or asked; the order stays pending and the approval is redelivered. A
    dependency away, not a bad approval: the runtime retries it for as long as the outage lasts and never
    dead-letters it (`faults.is_transient`); once the broker answers, the redelivery asks it before sending."""


class OrderInHand(DependencyUnavailable):
    """Another replica holds the order's broker lease (store.broker_lease): the approval waits and comes back."""


class ApprovalHandler:
    def __init__(self, ctx: Context, trusted: Mapping[str, Ed25519PublicKey], trading: TradingStateFollower,
                 positions: BrokerPositions) -> None:
        self.ctx = ctx
        self.trusted = trusted
        self.trading = trading
        self.positions = positions

    async def on_approval(self, envelope: Envelope, msg: Msg) -> None:
        event = expect(RiskApproved, envelope, msg)
        ctx = self.ctx
        state = await self.trading.current()  # the kill switch as it is now, read again after a reconnect (or wait)
        async with store.submit_lease(ctx.pool, event.order_id, self._new_order(event, state)) as lease:
            if not lease.held:
                raise OrderInHand(f"another replica is talking to the broker about order {event.order_id}")
            done = ctx.submitting[event.order_id] = asyncio.Event()
            try:
                await self._submit(event, lease)
            finally:
                del ctx.submitting[event.order_id]
                done.set()

    def _new_order(self, event: RiskApproved, state: TradingState) -> store.PendingOrder | None:
        """The pending row to write with the lease, in its statement, should the order have none yet: when the gate
        passes without reading the database (any state but REDUCING). None: decide under the row lock."""
        if state is TradingState.REDUCING:
            return None
        decided = plan(None, event, self._gate(event, state, working=[]))
        return _pending_order(event, decided) if decided.action is Action.SUBMIT else None

    async def _submit(self, event: RiskApproved, lease: store.Lease) -> None:
        ctx = self.ctx
        # 1-2. decide and record pending: written with the lease (a new order), or under the row lock a cancel takes
        decided, unsent = (Plan(Action.SUBMIT), ()) if lease.pending is not None else \
            await ctx.group.run(functools.partial(self._record_pending, event))
        if decided.action is Action.FAIL:
            log.warning("gateway.approval_unusable", order_id=str(event.order_id),
                        approval_id=str(event.approval_id), reason=decided.reason)
            await ctx.outbox.publish_now(unsent)
            return
        if decided.action is Action.REFUSE:
            log.warning("gateway.approval_refused", order_id=str(event.order_id),
                        approval_id=str(event.approval_id), reason=decided.reason)
            raise PoisonMessage(f"approval refused: {decided.reason}")
        if decided.action in (Action.REPEAT, Action.AFTER_CANCEL):
            log.info("gateway.approval_not_submitted", order_id=str(event.order_id), reason=decided.reason)
            return

        async def audit(call: BrokerCall) -> None:
            await store.record_broker_call(ctx.pool, event.order_id, call)

        # 3. call the broker; 4. record what it said
        result = await submit_at_broker(ctx.broker, event, decided, ctx.clock, audit, self._halted)
        if isinstance(result, Placed):
            if lease.pending is not None:
                await confirm_recorded(ctx, lease, lease.pending, result.order, call=result.call)
            else:
                await confirm_submitted(ctx, event.order_id, result.order, source="lookup", call=result.call,
                                        grouped=True)
            crash_point("gateway.before_ack")  # recorded, the approval not acked yet: redelivered, seen as done
        elif isinstance(result, Unsettled):
            log.warning("gateway.submit_unsettled", order_id=str(event.order_id), reason=result.message)
        else:
            await fail_pending(ctx, event.order_id, result.http_status, result.code, result.message,
                               causation_id=event.event_id)

    async def _record_pending(self, event: RiskApproved, conn: Connection) -> tuple[Plan, tuple[Envelope, ...]]:
        """Inside the group's transaction: lock the row, decide, record ``pending`` (or the end of an order that can
        never be sent) and the approval as seen."""
        row = await store.lock_order(conn, event.order_id)
        state = self.trading.state
        working = await self._working(conn, event) if state is TradingState.REDUCING else []
        decided = plan(row, event, self._gate(event, state, working))
        if decided.action in (Action.SUBMIT, Action.FAIL):
            await store.insert_pending(conn, _pending_order(event, decided))
        else:
            await store.record_approval_seen(conn, event.event_id, event.approval_id, event.order_id,
                                             decided.seen_as, decided.reason)
        unsent: tuple[Envelope, ...] = ()
        if decided.action is Action.FAIL:  # never sent: the order ends here, with its event
            unsent = await fail_unsent(self.ctx, conn, event.order_id, decided.reason or "refused",
                                       causation_id=event.event_id)
        return decided, unsent

    async def _halted(self) -> bool:
        return await self.trading.current() is TradingState.HALTED


    def _gate(self, event: RiskApproved, state: TradingState, working: list[Working]) -> gate.Refusal | None:
        """The gate's verdict in trading ``state``, with ``working`` (`_working`) while REDUCING."""
        return gate.check(event, self.trusted, self.ctx.clock.now(), state, self.positions.qty(event.symbol), working)

    async def _working(self, conn: Connection, event: RiskApproved) -> list[Working]:
        """What the gateway's other orders in the symbol may still move, which REDUCING weighs against the position:
        their remainders, and their fills the broker's positions may not have yet (``projection.in_settled``)."""
        as_of = self.positions.as_of
        if self.positions.qty(event.symbol) is None or as_of is None:
            return []
        working = await store.working_in(conn, event.symbol, event.order_id)
        recent = await store.fills_recorded_since(conn, event.symbol, as_of - SETTLE_MARGIN)
        return working + [fill for fill, recorded_at in recent if not in_settled(recorded_at, as_of, SETTLE_MARGIN)]


def _pending_order(event: RiskApproved, decided: Plan) -> store.PendingOrder:
    """The pending row of the approved order (exactly the signed fields), with its approval seen as decided."""
    return store.PendingOrder(event.order_id, client_order_id_for(event.order_id), event.approval_id, event.symbol,
                              signed_order(event).model_dump(mode="json"), event.expires_at,
                              seen=(event.event_id, decided.seen_as, decided.reason))


async def _never_halted() -> bool:
    return False


async def submit_at_broker(broker: Broker, approval: RiskApproved, decided: Plan, clock: Clock, audit: Audit,
                           halted: Callable[[], Awaitable[bool]] = _never_halted) -> Placed | NotPlaced | Unsettled:
    """Get the approved order to the broker exactly once, or learn for sure that it is not there.

    Every call the broker answers with an error or a 404 goes to ``audit`` as it happens. ``halted`` is asked
    before every POST (it raises when the state cannot be confirmed: the row stays pending, the approval comes
    back). Raises `SubmitNotConfirmed` (transient: the approval waits for the broker) after ``MAX_ATTEMPTS``
    without a definite answer.
    """
    client_order_id = client_order_id_for(approval.order_id)
    order = signed_order(approval)  # exactly the signed fields, nothing else
    lookup_first = decided.action is Action.RESUME
    may_have_landed = lookup_first  # a pending row on redelivery: a POST may have been sent before
    for attempt in range(1, MAX_ATTEMPTS + 1):
        if lookup_first:
            try:
                found = await broker.order_by_client_id(client_order_id)
            except BrokerError as exc:
                await audit(BrokerCall.failed("lookup", exc))
                await clock.sleep(min(2.0 * attempt, 5.0))
                continue
            if found is not None:
                return Placed(BrokerOrder.of(found), call="lookup")
            await audit(BrokerCall("lookup", 404))
        unsendable = await _unsendable(decided, approval, clock, halted)
        if unsendable is not None:
            return Unsettled(f"not found at the broker yet, and {unsendable}") if may_have_landed else \
                NotPlaced(None, None, unsendable)
        try:
            may_have_landed = True
            crash_point("gateway.before_post")  # pending is committed, nothing sent: the redelivery looks up, posts
            placed = await broker.submit(order, client_order_id)
        except BrokerError as exc:
            await audit(BrokerCall.failed("submit", exc))
            if isinstance(exc, BrokerRejected) and not _duplicate_client_order_id(exc):
                return NotPlaced(exc.status, exc.code, exc.message)
            lookup_first = True  # the broker may have it (or has it: duplicate id): ask before sending again
            wait_s = _wait_before_lookup(exc, attempt, str(approval.order_id))
            if wait_s:
                await clock.sleep(wait_s)
            continue
        crash_point("gateway.after_post")  # the broker has it, we have not recorded it: the redelivery finds it
        return Placed(BrokerOrder.of(placed), call="submit")
    raise SubmitNotConfirmed(f"order {approval.order_id}: broker unreachable after {MAX_ATTEMPTS} attempts")


async def _unsendable(decided: Plan, approval: RiskApproved, clock: Clock,
                      halted: Callable[[], Awaitable[bool]]) -> str | None:
    """Why the order may not be POSTed now (None: it may)."""
    if not decided.may_post or clock.now() >= approval.expires_at:
        return EXPIRED_UNSENT if decided.may_post else f"{decided.reason or 'the gate refuses it now'}; nothing sent"
    if await halted():
        return HALTED_UNSENT
    return None


def _duplicate_client_order_id(exc: BrokerRejected) -> bool:
    """Alpaca's 422 for a client_order_id it already has: an earlier attempt of ours landed."""
    return exc.status == 422 and "client_order_id" in exc.message.lower()


def _wait_before_lookup(exc: BrokerError, attempt: int, order_id: str) -> float:
    if isinstance(exc, BrokerRejected):  # duplicate id: it is there, fetch it at once
        return 0.0
    if isinstance(exc, BrokerRateLimited):  # wait as the broker's headers say, within reason
        log.warning("gateway.rate_limited", wait_s=exc.retry_after_s)
        return min(exc.retry_after_s, MAX_RETRY_AFTER_S)
    log.warning("gateway.submit_ambiguous", order_id=order_id, error=exc.message, attempt=attempt)
    return min(0.5 * attempt, 3.0)
