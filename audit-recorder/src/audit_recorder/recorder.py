"""The recording loop: read AUDIT from the table's head on, write chained rows in batches, sign checkpoints.

The table is the only bookmark. The recorder reads through an ephemeral pull consumer (no acks) that starts at
``head + 1``; after a restart, a reconnect or a skipped sequence it makes a new one from the table's head again, so
a crash at any moment (``kill -9`` mid-batch included) resumes exactly where the committed rows end. Decisions are
in the pure cores: `rows.plan_batch` (which messages become which rows), `cadence.Cadence` (when to sign),
`startup` (whether this table and this stream belong together).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext, api
from nats.js.errors import NotFoundError

from tradebus_contracts.streams import AUDIT
from tradebus_runtime import get_logger

from .cadence import Anchor, Cadence
from .checkpoints import Checkpoints
from .rows import START, AuditRow, Head, StreamMessage, plan_batch
from .startup import StreamState, TableState, continuity_problems
from .store import SequenceTaken, Store

log = get_logger(__name__)
FETCH_WAIT_S = 1.0
RETRY_S = 1.0


class TrailBroken(RuntimeError):
    """The table and the AUDIT stream do not belong together: recording stops until a person looks."""


@dataclass(frozen=True)
class RecorderConfig:
    batch: int = 1000
    cadence: Cadence = Cadence()


class Recorder:
    def __init__(self, js: JetStreamContext, open_store: Callable[[], Awaitable[Store]], checkpoints: Checkpoints,
                 config: RecorderConfig, anchor: Anchor) -> None:
        self._js = js
        self._open_store = open_store
        self._checkpoints = checkpoints
        self._config = config
        self._anchor = anchor  # the last signed checkpoint: where the cadence goes on from
        self._store: Store | None = None
        self._head = START
        self._stopping = asyncio.Event()
        self._stopped = asyncio.Event()

    @property
    def head(self) -> Head:
        return self._head

    async def open(self) -> None:
        """Take the writer lock, find the head, check the stream still matches it (raises `TrailBroken`)."""
        self._store = store = await self._open_store()
        head, head_payload = await store.head()
        info = await self._js.stream_info(AUDIT.name)
        created = info.created or datetime.fromtimestamp(0, UTC)
        table = TableState(head.seq, head_payload, await store.recorded_from(AUDIT.name))
        stream = StreamState(created, info.state.first_seq, info.state.last_seq,
                             await self._payload_at(head.seq))
        problems = continuity_problems(table, stream)
        if problems:
            await store.close()
            raise TrailBroken("; ".join(problems) + " — run `tradectl audit verify` to see what changed")
        if table.recorded_from is None:
            await store.remember_stream(AUDIT.name, created)
        self._head = head
        log.info("audit.resuming", head_seq=head.seq, stream_last_seq=info.state.last_seq)

    async def _payload_at(self, seq: int) -> bytes | None:
        if seq == 0:
            return None
        try:
            return (await self._js.get_msg(AUDIT.name, seq)).data or b""
        except NotFoundError:
            return None

    async def run_forever(self) -> None:
        try:
            while not self._stopping.is_set():
                try:
                    await self._record_from_head()
                except TrailBroken:
                    raise
                except Exception as exc:  # PostgreSQL or NATS trouble: reopen from the table's head
                    log.warning("audit.recording_interrupted", error=f"{type(exc).__name__}: {exc}")
                    await self._reopen()
        except TrailBroken as exc:
            log.error("audit.trail_broken", problem=str(exc))
            raise
        finally:
            self._stopped.set()

    async def _reopen(self) -> None:
        if self._store is not None:
            with contextlib.suppress(Exception):
                await self._store.close()
        while not self._stopping.is_set():
            await asyncio.sleep(RETRY_S)
            try:
                await self.open()
                return
            except TrailBroken:
                raise
            except Exception as exc:
                log.warning("audit.reopen_failed", error=f"{type(exc).__name__}: {exc}")

    async def _record_from_head(self) -> None:
        sub = await self._subscribe(self._head.seq + 1)
        try:
            while not self._stopping.is_set():
                messages = await self._fetch(sub)
                plan = plan_batch(self._head, (_stream_message(m) for m in messages))
                if plan.rows:
                    await self._write(plan.rows)
                    self._head = plan.head
                await self._checkpoint_if_due()
                if plan.resume_from is not None:
                    log.warning("audit.sequence_skipped", resume_from=plan.resume_from)
                    return
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _fetch(self, sub: JetStreamContext.PullSubscription) -> list[Msg]:
        """The next batch, or nothing after ``FETCH_WAIT_S`` or on stop (un-fetched messages are simply read again
        from the table's head next time: the consumer keeps no state worth saving)."""
        fetch = asyncio.create_task(sub.fetch(self._config.batch, timeout=FETCH_WAIT_S))
        stop = asyncio.create_task(self._stopping.wait())
        try:
            await asyncio.wait({fetch, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if not fetch.done():
            fetch.cancel()
            return []
        try:
            return fetch.result()
        except (TimeoutError, NatsTimeoutError):
            return []

    async def _write(self, rows: list[AuditRow]) -> None:
        if self._store is None:
            raise RuntimeError("recorder is not open")
        try:
            await self._store.append(rows)
        except SequenceTaken as exc:
            raise TrailBroken(str(exc)) from None

    async def _checkpoint_if_due(self) -> None:
        if self._config.cadence.due(self._anchor, self._head.seq, datetime.now(UTC)):
            self._anchor = await self._checkpoints.sign(self._head)

    async def _subscribe(self, start_seq: int) -> JetStreamContext.PullSubscription:
        config = api.ConsumerConfig(ack_policy=api.AckPolicy.NONE, deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
                                    opt_start_seq=start_seq, inactive_threshold=30.0, mem_storage=True,
                                    description="audit-recorder: AUDIT from the table's head on")
        return await self._js.pull_subscribe("", stream=AUDIT.name, config=config)

    async def stop(self) -> None:
        """Finish the batch in hand, sign the head if it moved, release the writer lock."""
        self._stopping.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), FETCH_WAIT_S * 3)
        if self._store is not None and self._store.alive and self._head.seq > self._anchor.seq:
            with contextlib.suppress(Exception):
                self._anchor = await self._checkpoints.sign(self._head)
        if self._store is not None:
            with contextlib.suppress(Exception):
                await self._store.close()

    async def alive(self) -> bool:
        return not self._stopped.is_set() and self._store is not None and self._store.alive


def _stream_message(msg: Msg) -> StreamMessage:
    meta = msg.metadata
    return StreamMessage(meta.sequence.stream, msg.subject, msg.data, meta.timestamp)
