"""NATS JetStream: connection, stream declaration, publishing events and consuming them.

This is plain nats-py on purpose: the hot path (risk -> gateway) must stay within 1.5x of a bare nats-py
pipeline, and a generic framework's per-message logging and thread hops cost more than that (see
docs/ARCHITECTURE.md). Everything here runs on the event loop: no thread hop per message.

Consumers are durable pull consumers with explicit ack. Each message is decoded into its contract type
exactly once; a message that cannot be decoded is put on ``dlq.<service>`` with the reason and terminated
(never redelivered forever). What happens after a handler fails depends on why (`settle`):

* `PoisonMessage`: input that can never succeed — dead-lettered at once.
* a *transient* failure (`faults.is_transient`: PostgreSQL, NATS or the network away, `DependencyUnavailable`) —
  the message waits for the dependency: it is nak'ed with the consumer's backoff (capped at
  ``transient_retry_max_s``, so work resumes within seconds of the dependency coming back) and retried for as
  long as the outage lasts. It never counts toward dead-lettering.
* any other exception — retried with backoff; after ``max_deliver`` such failures the message is dead-lettered.

How the runtime counts: the JetStream consumer has ``max_deliver = -1`` (the server never gives up on a message by
itself: a server-side limit would also count the transient failures, and a message past it is silently skipped,
not dead-lettered). The runtime enforces ``max_deliver`` for non-transient failures only. Per message (stream
sequence) the consumer keeps a `Tally` in memory: how many deliveries happened before this process first saw it
(``baseline``) and how many ended transient. A delivery's non-transient failures are then ``num_delivered -
baseline - transient`` (the JetStream metadata counts every delivery; a redelivery after an ack timeout — a
handler that hung — counts as a failure). The tally is dropped when the message is settled for good and bounded
(oldest dropped past `TALLY_LIMIT`). A restarted process does not know earlier failures, so it gives a message
its full ``max_deliver`` again: a message is never dead-lettered early because of an outage, at the cost of a
few more tries of a truly bad one across restarts.

How long a message may be in hand: the consumer's ``ack_wait_s`` is how long the server waits for word on a
delivered message before it sends it again — to this process or to another replica. While a fetched batch is being
handled the consumer tells the server every third of ``ack_wait_s`` that each unsettled message is still in progress,
so a slow handler (a broker call, a message waiting behind fifteen others in its batch) is never handed to a second
replica while the first one works on it; a process that dies stops saying so, and its messages come back after
``ack_wait_s``. Retry delays are the runtime's (``nak`` with a delay), not the server's ``backoff``, which would
replace ``ack_wait`` with its first step.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext, api
from nats.js.errors import BucketNotFoundError, NotFoundError
from nats.js.kv import KeyValue

from tradebus_contracts import DeadLetter, InvalidEvent, decode_event, encode_event, subject_for
from tradebus_contracts import Envelope as Event
from tradebus_contracts.consumers import Durable
from tradebus_contracts.streams import ALL_STREAMS, StreamDefinition

from .faults import is_transient
from .health import Degraded
from .identity import identity_options, nats_servers
from .logging import get_logger

log = get_logger(__name__)

Handler = Callable[[Event, Msg], Awaitable[None]]


class PoisonMessage(Exception):
    """Raised by a handler for a message that can never succeed: it goes to the DLQ at once."""


E = TypeVar("E", bound=Event)


def expect(kind: type[E], event: Event, msg: Msg) -> E:
    """``event`` as the one event type its subject carries; any other is poison (the DLQ at once, never retried)."""
    if not isinstance(event, kind):
        raise PoisonMessage(f"{event.event_type} on {msg.subject}: only {kind.__name__} belongs there")
    return event


TALLY_LIMIT = 10_000  # messages whose failures a consumer remembers (max_ack_pending is 1000 by default)
# A pull request's life when the stream is idle. Short on purpose: after a NATS restart the request sent before it
# is still served by the new server, and a fetch that got a message on it waits for the rest of its batch until the
# request expires — with 5 s, risk decided nothing for seconds after every NATS restart (the chaos suite's storm).
# An idle consumer costs one local request a second.
FETCH_TIMEOUT_S = 1.0
WAITING_LOG_EVERY_S = 5.0  # during an outage, one log line per consumer this often, not one per message


async def connect(url: str, name: str, *, seed_file: str | os.PathLike[str] | None = None,
                  connect_timeout: float = 5.0) -> NatsClient:
    """Connect as ``name`` (with its nkey seed when the server asks for one), with unlimited reconnects;
    disconnections are logged, never fatal."""

    async def on_error(exc: Exception) -> None:
        log.warning("nats.error", error=str(exc))

    async def on_disconnect() -> None:
        log.warning("nats.disconnected")

    async def on_reconnect() -> None:
        log.info("nats.reconnected")

    return await nats.connect(
        servers=nats_servers(url),
        name=name,
        connect_timeout=connect_timeout,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        error_cb=on_error,
        disconnected_cb=on_disconnect,
        reconnected_cb=on_reconnect,
        **identity_options(name, seed_file),
    )


def stream_config(spec: StreamDefinition, replicas: int = 1) -> api.StreamConfig:
    """The nats-py configuration for one of the contract's stream definitions (``replicas``: copies in a cluster)."""
    return api.StreamConfig(
        name=spec.name,
        description=spec.description,
        subjects=list(spec.subjects) or None,
        sources=[api.StreamSource(name=s) for s in spec.sources] or None,
        storage=api.StorageType.FILE if spec.storage == "file" else api.StorageType.MEMORY,
        retention=api.RetentionPolicy(spec.retention),
        max_age=spec.max_age_seconds or None,
        duplicate_window=spec.duplicate_window_seconds,
        discard=api.DiscardPolicy(spec.discard),
        deny_delete=spec.deny_delete,
        deny_purge=spec.deny_purge,
        num_replicas=replicas,
    )


async def ensure_streams(js: JetStreamContext, specs: Iterable[StreamDefinition] = ALL_STREAMS, *,
                         update: bool = True, replicas: int = 1) -> None:
    """Create the streams that are missing; with ``update`` (provisioning, as the admin) also bring the existing
    ones to their definition. A service starts with ``update=False``: against a provisioned server it only reads
    (its NATS identity may not create or change a stream); against a bare one (tests) it creates what is missing."""
    for spec in specs:
        config = stream_config(spec, replicas)
        try:
            await js.stream_info(spec.name)
        except NotFoundError:
            await js.add_stream(config)
            log.info("nats.stream_created", stream=spec.name, replicas=replicas)
        else:
            if update:
                await js.update_stream(config)


@dataclass(frozen=True)
class ConsumerSpec:
    """One durable pull consumer of a service.

    ``max_deliver`` is how many times a handler may fail with a non-transient error before the message is
    dead-lettered (the runtime counts; the server's own limit is off, see the module docstring). ``backoff_s`` is
    the delay before each retry (the last one repeats); a transient failure waits at most ``transient_retry_max_s``.
    ``ack_wait_s`` is how long after a process stops answering for a message the server redelivers it.
    ``concurrency`` is how many messages a one-by-one handler works on at once (1: one after the other, in order).
    Above 1 the consumer fetches again whenever a slot is free, so one slow message never holds up the others, and
    the handler must serialise what needs it itself (the gateway: a row lock and a broker lease per order).
    """

    stream: str
    durable: str
    filter_subjects: tuple[str, ...]
    max_deliver: int = 5
    backoff_s: tuple[float, ...] = (1.0, 5.0, 15.0, 60.0)
    max_ack_pending: int = 1000
    batch: int = 64
    description: str = ""
    transient_retry_max_s: float = 5.0
    ack_wait_s: float = 5.0
    concurrency: int = 1

    @classmethod
    def of(cls, durable: Durable, **tuning: Any) -> ConsumerSpec:
        """The spec of one of the contract's durable consumers, with this service's way of working through it
        (``max_deliver``, ``backoff_s``, ``batch``, ``concurrency``...)."""
        return cls(stream=durable.stream, durable=durable.name, filter_subjects=durable.filter_subjects,
                   description=durable.description, ack_wait_s=durable.ack_wait_s,
                   max_ack_pending=durable.max_ack_pending, **tuning)

    def config(self) -> api.ConsumerConfig:
        return api.ConsumerConfig(
            durable_name=self.durable,
            description=self.description or None,
            ack_policy=api.AckPolicy.EXPLICIT,
            deliver_policy=api.DeliverPolicy.ALL,
            filter_subjects=list(self.filter_subjects),
            max_deliver=-1,  # the runtime dead-letters after max_deliver non-transient failures (module docstring)
            ack_wait=self.ack_wait_s,
            max_ack_pending=self.max_ack_pending,
        )


@dataclass
class Bus:
    """A service's handle on NATS: publish events, run consumers, answer requests."""

    nc: NatsClient
    service: str
    js: JetStreamContext = field(init=False)

    def __post_init__(self) -> None:
        self.js = self.nc.jetstream()

    async def publish(self, event: Event, *, timeout: float = 5.0) -> api.PubAck:
        """Publish an event to its contract subject; ``Nats-Msg-Id`` = ``event_id`` de-duplicates retries."""
        return await self.publish_encoded(subject_for(event), encode_event(event), event.event_id, timeout=timeout)

    async def publish_encoded(self, subject: str, payload: bytes, event_id: object, *,
                              timeout: float = 5.0) -> api.PubAck:
        """Publish an event already encoded (e.g. stored in an outbox) exactly as `publish` would."""
        return await self.js.publish(subject, payload, timeout=timeout, headers={"Nats-Msg-Id": str(event_id)})

    async def dead_letter(self, msg: Msg, reason: str) -> None:
        """Put a message that cannot be processed on ``dlq.<service>`` with the reason."""
        letter = DeadLetter.from_raw(
            producer=self.service,
            service=self.service,
            original_subject=msg.subject,
            reason=reason,
            payload=msg.data,
            headers=dict(msg.headers or {}),
        )
        await self.publish(letter)
        log.warning("dlq.published", original_subject=msg.subject, reason=reason[:500])

    async def ensure_consumer(self, spec: ConsumerSpec) -> JetStreamContext.PullSubscription:
        """Bind to the durable consumer. Provisioning creates it (a service's NATS identity may not create or change
        one); only on a bare server (tests) is a missing one created here."""
        try:
            await self.js.consumer_info(spec.stream, spec.durable)
        except NotFoundError:
            await self.js.add_consumer(spec.stream, spec.config())
            log.info("nats.consumer_created", stream=spec.stream, durable=spec.durable)
        return await self.js.pull_subscribe_bind(durable=spec.durable, stream=spec.stream)


async def ensure_consumers(js: JetStreamContext, specs: Iterable[ConsumerSpec]) -> None:
    """Provisioning: create or update each durable consumer to its definition (idempotent; the admin's act)."""
    for spec in specs:
        await js.add_consumer(spec.stream, spec.config())


BatchHandler = Callable[[list[tuple[Event, Msg]]], Awaitable[Sequence[Exception | None]]]


@dataclass(frozen=True)
class Tally:
    """What a consumer knows of one message's failures: deliveries before it first saw the message, and how many
    of its own deliveries ended with a transient failure."""

    baseline: int
    transient: int = 0


@dataclass(frozen=True)
class Ack:
    pass


@dataclass(frozen=True)
class Retry:
    delay_s: float
    transient: bool
    failures: int  # non-transient failures so far


@dataclass(frozen=True)
class Bury:
    """Dead-letter the message, with the reason."""

    reason: str


def settle(outcome: Exception | None, delivered: int, tally: Tally | None,
           spec: ConsumerSpec) -> tuple[Tally, Ack | Retry | Bury]:
    """How to settle one delivery (``delivered`` = its ``num_delivered``), and the message's tally after it."""
    tally = tally if tally is not None else Tally(baseline=delivered - 1)
    if outcome is None:
        return tally, Ack()
    if isinstance(outcome, PoisonMessage):
        return tally, Bury(f"poison: {outcome}")
    if is_transient(outcome):
        tally = Tally(tally.baseline, tally.transient + 1)
        delay = min(_backoff(spec, tally.transient), spec.transient_retry_max_s)
        return tally, Retry(delay, transient=True, failures=_failures(delivered, tally))
    failures = _failures(delivered, tally)
    if failures >= spec.max_deliver:
        return tally, Bury(f"handler failed {failures} times: {type(outcome).__name__}: {outcome}")
    return tally, Retry(_backoff(spec, failures), transient=False, failures=failures)


def _failures(delivered: int, tally: Tally) -> int:
    return max(delivered - tally.baseline - tally.transient, 0)


def _backoff(spec: ConsumerSpec, attempt: int) -> float:
    if not spec.backoff_s:
        return 1.0
    return spec.backoff_s[min(max(attempt, 1), len(spec.backoff_s)) - 1]


class Consumer:
    """Runs one durable pull consumer: fetch in batches, decode, hand to the handler, settle each message.

    Two handler shapes:
    * ``handler(event, msg)`` — one message at a time; raising means "not done".
    * ``batch_handler(items) -> outcomes`` — the whole fetched batch at once (so a service can write its
      decisions in one database round trip); one outcome per item, in order: ``None`` = done (ack),
      a `PoisonMessage` = dead-letter now, any other exception = retry later. Raising fails the whole batch.
    Either way an exception is settled by `settle`: transient ones wait for the dependency, others count.
    """

    def __init__(
        self,
        bus: Bus,
        spec: ConsumerSpec,
        handler: Handler | None = None,
        *,
        batch_handler: BatchHandler | None = None,
    ) -> None:
        self._bus = bus
        self._spec = spec
        if spec.concurrency > 1 and handler is None:
            raise ValueError(f"{spec.durable}: concurrency needs a one-by-one handler, not a batch handler")
        # what a fetched batch goes to: each message to its own task (concurrency > 1), or the batch in turn
        self._take: Callable[[list[Msg]], Awaitable[None]] = (
            functools.partial(self._start_each, handler) if spec.concurrency > 1 and handler is not None
            else self._process)
        self._working: set[asyncio.Task[None]] = set()  # handlers under way (concurrency > 1)
        if handler is not None and batch_handler is None:
            self._deliver = functools.partial(self._one_by_one, handler)
        elif batch_handler is not None and handler is None:
            self._deliver = functools.partial(self._as_batch, batch_handler)
        else:
            raise ValueError("give exactly one of handler or batch_handler")
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._tallies: OrderedDict[int, Tally] = OrderedDict()
        self._in_hand: dict[int, Msg] = {}  # fetched messages not yet settled (stream sequence -> msg)
        self._waiting_for: str | None = None  # the last transient error, until a message is settled for good
        self._waiting_logged_at = 0.0
        self._waiting_unlogged = 0
        self.processed = 0
        self.dead_lettered = 0
        self.transient_failures = 0

    @property
    def spec(self) -> ConsumerSpec:
        return self._spec

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done()

    def health(self) -> bool | Degraded:
        """False when the consumer loop is gone; `Degraded` while its messages wait for a dependency."""
        if not self.alive:
            return False
        if self._waiting_for is not None:
            return Degraded(f"{self._spec.durable} waiting for a dependency: {self._waiting_for}")
        return True

    async def start(self) -> None:
        sub = await self._bus.ensure_consumer(self._spec)
        self._task = asyncio.create_task(self._run(sub), name=f"consumer:{self._spec.durable}")

    async def stop(self) -> None:
        """Finish the batch in hand, then stop fetching (un-acked messages are redelivered later)."""
        self._stopping.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self, sub: JetStreamContext.PullSubscription) -> None:
        fetch_task: asyncio.Task[list[Msg]] | None = None
        stop_wait = asyncio.create_task(self._stopping.wait())
        concurrent = self._spec.concurrency > 1
        keepalive = asyncio.create_task(self._keep_in_hand(), name=f"keepalive:{self._spec.durable}") \
            if concurrent else None
        try:
            while not self._stopping.is_set():
                size = self._spec.batch
                if concurrent:  # fetch only for the free slots, as soon as there is one
                    while len(self._working) >= self._spec.concurrency and not self._stopping.is_set():
                        await asyncio.wait({*self._working, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
                    if self._stopping.is_set():
                        break
                    size = min(size, self._spec.concurrency - len(self._working))
                fetch_task = asyncio.create_task(sub.fetch(size, timeout=FETCH_TIMEOUT_S))
                await asyncio.wait({fetch_task, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
                if not fetch_task.done():
                    fetch_task.cancel()
                    break
                try:
                    messages = fetch_task.result()
                except (TimeoutError, NatsTimeoutError):
                    continue
                except Exception as exc:  # connection trouble: keep going, nats-py reconnects
                    log.warning("consumer.fetch_failed", durable=self._spec.durable, error=str(exc))
                    await asyncio.sleep(0.5)
                    continue
                if concurrent:
                    await self._take(messages)
                    continue
                try:
                    await self._take(messages)
                except Exception as exc:  # e.g. an ack on a lost connection: what is not settled comes back
                    log.warning("consumer.settle_failed", durable=self._spec.durable,
                                error=f"{type(exc).__name__}: {exc}")
                    await asyncio.sleep(0.5)
        finally:
            if self._working:  # finish what is in hand (stop, or the loop failing)
                await asyncio.gather(*self._working, return_exceptions=True)
            if keepalive is not None:
                keepalive.cancel()
            stop_wait.cancel()
            if fetch_task is not None and not fetch_task.done():
                fetch_task.cancel()
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _process(self, messages: list[Msg]) -> None:
        self._in_hand = {msg.metadata.sequence.stream: msg for msg in messages}
        keepalive = asyncio.create_task(self._keep_in_hand(), name=f"keepalive:{self._spec.durable}")
        try:
            items: list[tuple[Event, Msg]] = []
            for msg in messages:
                try:
                    items.append((decode_event(msg.data), msg))
                except InvalidEvent as exc:
                    await self._dead_letter(msg, f"undecodable: {exc}")
            if items:
                await self._deliver(items)
        finally:
            keepalive.cancel()
            self._in_hand = {}

    async def _start_each(self, handler: Handler, messages: list[Msg]) -> None:
        """concurrency > 1: each message to its own handler task, settled when it is done."""
        for msg in messages:
            self._in_hand[msg.metadata.sequence.stream] = msg
            try:
                event = decode_event(msg.data)
            except InvalidEvent as exc:
                await self._dead_letter(msg, f"undecodable: {exc}")
                continue
            task = asyncio.create_task(self._handle_one(handler, event, msg),
                                       name=f"{self._spec.durable}:{msg.metadata.sequence.stream}")
            self._working.add(task)
            task.add_done_callback(self._working.discard)

    async def _handle_one(self, handler: Handler, event: Event, msg: Msg) -> None:
        try:
            await self._one_by_one(handler, [(event, msg)])
        except Exception as exc:  # e.g. an ack on a lost connection: the server redelivers it
            log.warning("consumer.settle_failed", durable=self._spec.durable, error=f"{type(exc).__name__}: {exc}")

    async def _keep_in_hand(self) -> None:
        """Every third of ack_wait, mark each message of the batch not yet settled as still in progress."""
        while True:
            await asyncio.sleep(self._spec.ack_wait_s / 3)
            for msg in list(self._in_hand.values()):
                try:
                    await msg.in_progress()
                except Exception as exc:  # a lost connection: the server redelivers, nothing is lost
                    log.warning("consumer.in_progress_failed", durable=self._spec.durable, error=str(exc))
                    break

    async def _one_by_one(self, handler: Handler, items: list[tuple[Event, Msg]]) -> None:
        """Each message settled as soon as its handler returns: a slow batch must not hold early acks back."""
        for event, msg in items:
            try:
                await handler(event, msg)
            except Exception as exc:
                await self._settle(event, msg, exc)
            else:
                await self._settle(event, msg, None)

    async def _as_batch(self, batch_handler: BatchHandler, items: list[tuple[Event, Msg]]) -> None:
        try:
            outcomes = list(await batch_handler(items))
        except Exception as exc:
            outcomes = [exc] * len(items)
        if len(outcomes) != len(items):
            raise RuntimeError(f"batch handler of {self._spec.durable} returned {len(outcomes)} outcomes for "
                               f"{len(items)} items")
        for (event, msg), outcome in zip(items, outcomes, strict=True):
            await self._settle(event, msg, outcome)

    async def _settle(self, event: Event, msg: Msg, outcome: Exception | None) -> None:
        meta = msg.metadata
        seq = meta.sequence.stream
        self._in_hand.pop(seq, None)
        tally, verdict = settle(outcome, meta.num_delivered, self._tallies.pop(seq, None), self._spec)
        if isinstance(verdict, Ack):
            await msg.ack()
            self.processed += 1
            self._waiting_for = None
        elif isinstance(verdict, Bury):
            if outcome is not None and not isinstance(outcome, PoisonMessage):
                self._log_failure(event, meta.num_delivered, outcome)
            self._waiting_for = None
            if not await self._dead_letter(msg, verdict.reason):
                self._remember(seq, tally)  # it comes back: still counted
        else:
            self._remember(seq, tally)
            if verdict.transient:
                self._log_waiting(event, outcome, verdict.delay_s)
            else:
                self._log_failure(event, meta.num_delivered, outcome)
            await msg.nak(delay=verdict.delay_s)

    def _remember(self, seq: int, tally: Tally) -> None:
        self._tallies[seq] = tally
        while len(self._tallies) > TALLY_LIMIT:
            self._tallies.popitem(last=False)

    def _log_failure(self, event: Event, delivered: int, outcome: Exception | None) -> None:
        log.error(
            "consumer.handler_failed",
            durable=self._spec.durable,
            delivered=delivered,
            event_type=event.event_type,
            correlation_id=event.correlation_id,
            error=f"{type(outcome).__name__}: {outcome}",
            exc_info=outcome,
        )

    def _log_waiting(self, event: Event, outcome: Exception | None, delay_s: float) -> None:
        self.transient_failures += 1
        self._waiting_for = f"{type(outcome).__name__}: {outcome}"
        now = time.monotonic()
        if now - self._waiting_logged_at < WAITING_LOG_EVERY_S:
            self._waiting_unlogged += 1
            return
        log.warning("consumer.waiting_for_dependency", durable=self._spec.durable, event_type=event.event_type,
                    correlation_id=event.correlation_id, error=self._waiting_for, retry_in_s=delay_s,
                    also_waiting=self._waiting_unlogged)
        self._waiting_logged_at, self._waiting_unlogged = now, 0

    async def _dead_letter(self, msg: Msg, reason: str) -> bool:
        self._in_hand.pop(msg.metadata.sequence.stream, None)
        try:
            await msg.in_progress()  # the DLQ publish may outlast ack_wait: no redelivery while it runs
            await self._bus.dead_letter(msg, reason)
        except Exception:
            # The DLQ itself is unreachable: leave the message un-acked so it comes back, lose nothing.
            log.exception("dlq.publish_failed", original_subject=msg.subject)
            await msg.nak(delay=5.0)
            return False
        await msg.term()
        self.dead_lettered += 1
        return True


async def ensure_kv(js: JetStreamContext, bucket: str, description: str = "", *, replicas: int = 1) -> KeyValue:
    """Get a KV bucket, creating it (file storage, history 1, ``replicas`` copies) when it does not exist yet
    (provisioning creates them; a service only gets them, except on a bare server)."""
    try:
        return await js.key_value(bucket)
    except BucketNotFoundError:
        return await js.create_key_value(
            api.KeyValueConfig(bucket=bucket, description=description or None, history=1,
                               storage=api.StorageType.FILE, replicas=replicas)
        )
