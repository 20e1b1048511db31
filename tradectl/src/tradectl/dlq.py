"""``tradectl dlq list`` / ``tradectl dlq replay (ID | --all)``: dead letters, and bringing them back.

A dead letter is a `DeadLetter` event on ``dlq.<service>`` (stream DLQ): the original subject, the reason, the
original bytes (kept losslessly) and headers. Its ID is its DLQ stream sequence.

Replaying republishes the original bytes to the original subject. Decisions:

* **The duplicate window.** The original message is still in its stream (a dead-lettered message is terminated on
  its consumer, never deleted), and its ``Nats-Msg-Id`` is its event_id. Republished with that id within 2 minutes
  of the original, JetStream would answer "duplicate" and store nothing. So a replay carries its own id,
  ``<original id>:replay:<DLQ ID>:<n>`` (n = the how-manieth replay of that letter): never a duplicate of the
  original, while a retried publish of the same replay is still stored once. The bytes — and the event_id inside
  them — are unchanged: consumers recognise the event by its event_id (inbox, one decision per order_id).
  Other original headers go along, except the ``Nats-*`` ones the server acts on (expected sequence, rollup, TTL);
  ``Tradebus-Replay-Of: DLQ:<ID>`` says where it came from.
* **Who sees it.** Every consumer of the original subject receives the replay, not only the service that
  dead-lettered it (subjects are not per consumer); tradebus consumers are idempotent by event_id, and the AUDIT
  stream records the replay as a new message.
* **Replayed once.** Each replay is recorded in the KV bucket ``DLQ_REPLAYS`` under the letter's ID (when, by
  whom, where it went, how many times): ``dlq list`` shows it, and a second replay of the same letter is refused
  unless ``--force``. The record is written first (state ``replaying``, a create that only one operator can win),
  then the publish, then the record says ``replayed`` with the stream sequence: an interrupted replay shows as
  ``replaying`` and needs ``--force``. A failed publish puts the record back as it was.
* A letter whose payload was truncated when it was dead-lettered is never replayed (it is not the original).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TextIO

import nats
from nats.js import JetStreamContext
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue

from tradebus_contracts import DeadLetter, InvalidEvent, decode_event
from tradebus_contracts.streams import DLQ
from tradebus_runtime.bus import ensure_kv

from . import access
from .control import operator
from .tables import text_table

REPLAYS_BUCKET = "DLQ_REPLAYS"
REPLAY_OF_HEADER = "Tradebus-Replay-Of"
_REASON_WIDTH = 70


@dataclass(frozen=True)
class ReplayRecord:
    """What ``DLQ_REPLAYS`` keeps about one letter's replays (JSON)."""

    state: str  # "replaying" (publish under way or interrupted) | "replayed"
    count: int
    replayed_at: str
    by: str
    subject: str
    msg_id: str
    stream: str | None = None
    stream_seq: int | None = None
    duplicate: bool = False  # JetStream had this replay already (a retried replay): stored once

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def from_json(cls, data: bytes) -> ReplayRecord:
        return cls(**json.loads(data))


@dataclass(frozen=True)
class Letter:
    """One message of the DLQ stream: the dead letter (None if it is not one) and its replay record."""

    id: int
    subject: str
    stored_at: datetime
    letter: DeadLetter | None
    replay: ReplayRecord | None = None


# --- pure: what to print, what to refuse, what to publish ------------------------------------------------------


def original_msg_id(letter: DeadLetter) -> str:
    return letter.original_headers.get("Nats-Msg-Id") or letter.correlation_id


def replay_msg_id(letter: DeadLetter, letter_id: int, count: int) -> str:
    """The replay's ``Nats-Msg-Id``: not the original's (the duplicate window would swallow it), stable per replay."""
    return f"{original_msg_id(letter)}:replay:{letter_id}:{count}"


def replay_headers(letter: DeadLetter, letter_id: int, count: int) -> dict[str, str]:
    kept = {k: v for k, v in letter.original_headers.items() if not k.lower().startswith("nats-")}
    return {**kept, "Nats-Msg-Id": replay_msg_id(letter, letter_id, count), REPLAY_OF_HEADER: f"DLQ:{letter_id}"}


def refusal(item: Letter, force: bool) -> str | None:
    """Why ``item`` must not be replayed now; None when it may."""
    if item.letter is None:
        return "not a DeadLetter event"
    if item.letter.payload_truncated:
        return "its payload was truncated when it was dead-lettered: the original bytes are not all here"
    if item.replay is not None and not force:
        what = "replayed" if item.replay.state == "replayed" else "being replayed (or interrupted)"
        return f"already {what} {item.replay.replayed_at} by {item.replay.by}; --force replays it again"
    return None


def _replay_cell(record: ReplayRecord | None) -> str:
    if record is None:
        return "-"
    if record.state != "replayed":
        return f"{record.state}?"
    return f"{record.count}x {record.replayed_at[:19]}Z"


def table(items: Sequence[Letter]) -> list[str]:
    """``dlq list`` as aligned columns: ID, time, service, original subject, replayed, reason (shortened)."""
    rows = [("ID", "DEAD-LETTERED (UTC)", "SERVICE", "ORIGINAL SUBJECT", "REPLAYED", "REASON")]
    for item in items:
        when = item.stored_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        if item.letter is None:
            rows.append((str(item.id), when, "?", item.subject, "-", "(not a DeadLetter event)"))
            continue
        reason = " ".join(item.letter.reason.split())
        if len(reason) > _REASON_WIDTH:
            reason = reason[:_REASON_WIDTH - 1] + "…"
        rows.append((str(item.id), when, item.letter.service, item.letter.original_subject,
                     _replay_cell(item.replay), reason))
    return text_table(rows[0], rows[1:])


def as_json(item: Letter) -> dict[str, object]:
    letter = item.letter
    return {
        "id": item.id,
        "dead_lettered_at": item.stored_at.astimezone(UTC).isoformat(),
        "dlq_subject": item.subject,
        "service": letter.service if letter else None,
        "original_subject": letter.original_subject if letter else None,
        "reason": letter.reason if letter else "not a DeadLetter event",
        "event_id": str(letter.event_id) if letter else None,
        "original_msg_id": original_msg_id(letter) if letter else None,
        "payload_truncated": letter.payload_truncated if letter else None,
        "replayed": asdict(item.replay) if item.replay else None,
    }


# --- I/O: the DLQ stream and the replay records --------------------------------------------------------------


def _subject(service: str | None) -> str:
    return f"dlq.{service}" if service else "dlq.>"


def _letter(seq: int, subject: str, data: bytes, stored_at: datetime | None) -> Letter:
    try:
        event = decode_event(data)
    except InvalidEvent:
        event = None
    return Letter(seq, subject, stored_at or datetime.now(UTC), event if isinstance(event, DeadLetter) else None)


async def _replays(js: JetStreamContext) -> KeyValue | None:
    try:
        return await js.key_value(REPLAYS_BUCKET)
    except BucketNotFoundError:
        return None


async def _record(kv: KeyValue | None, letter_id: int) -> tuple[ReplayRecord | None, int | None]:
    if kv is None:
        return None, None
    try:
        entry = await kv.get(str(letter_id))
    except KeyNotFoundError:
        return None, None
    if not entry.value:
        return None, None
    return ReplayRecord.from_json(entry.value), entry.revision


async def read_letters(js: JetStreamContext, service: str | None = None) -> list[Letter]:
    """Every message on the DLQ stream (of one service), oldest first, with its replay record."""
    kv = await _replays(js)
    items: list[Letter] = []
    seq = 1
    while True:
        try:
            raw = await js.get_msg(DLQ.name, seq=seq, subject=_subject(service), next=True)
        except NotFoundError:
            break
        item = _letter(raw.seq, raw.subject, raw.data or b"", raw.time)
        record, _ = await _record(kv, raw.seq)
        items.append(Letter(item.id, item.subject, item.stored_at, item.letter, record))
        seq = raw.seq + 1
    return items


async def read_letter(js: JetStreamContext, letter_id: int) -> Letter | None:
    try:
        raw = await js.get_msg(DLQ.name, seq=letter_id)
    except NotFoundError:
        return None
    if not raw.subject or not raw.subject.startswith("dlq."):
        return None
    item = _letter(raw.seq, raw.subject, raw.data or b"", raw.time)
    record, _ = await _record(await _replays(js), letter_id)
    return Letter(item.id, item.subject, item.stored_at, item.letter, record)


class ReplayRefused(Exception):
    """This letter is not replayed; the message says why."""


async def replay(js: JetStreamContext, item: Letter, *, force: bool = False) -> ReplayRecord:
    """Republish one dead letter's original bytes to its original subject and record it (see the module docstring).

    Raises `ReplayRefused` (not replayable, or replayed already without ``force``)."""
    why = refusal(item, force)
    if why is not None:
        raise ReplayRefused(why)
    assert item.letter is not None  # refusal() said so
    letter = item.letter
    kv = await ensure_kv(js, REPLAYS_BUCKET, "dead letters replayed by tradectl dlq replay, by DLQ sequence")
    key = str(item.id)
    previous, revision = await _record(kv, item.id)
    count = (previous.count if previous else 0) + 1
    now = datetime.now(UTC).isoformat()
    claim = ReplayRecord("replaying", count, now, operator(), letter.original_subject,
                         replay_msg_id(letter, item.id, count))
    try:
        revision = await (kv.update(key, claim.to_json(), last=revision) if revision else
                          kv.create(key, claim.to_json()))
    except KeyWrongLastSequenceError:
        raise ReplayRefused("someone else is replaying it right now") from None
    try:
        ack = await js.publish(letter.original_subject, letter.original_payload(),
                               headers=replay_headers(letter, item.id, count), timeout=5)
    except Exception:
        await _put_back(kv, key, previous, revision)
        raise
    done = ReplayRecord("replayed", count, now, claim.by, claim.subject, claim.msg_id, ack.stream, ack.seq,
                        bool(ack.duplicate))
    await kv.update(key, done.to_json(), last=revision)
    return done


async def _put_back(kv: KeyValue, key: str, previous: ReplayRecord | None, revision: int) -> None:
    try:
        if previous is None:
            await kv.delete(key, last=revision)
        else:
            await kv.update(key, previous.to_json(), last=revision)
    except Exception:
        pass  # the record stays "replaying": a later replay needs --force, nothing is lost


# --- the commands ------------------------------------------------------------------------------------------------


async def _connect(url: str, *, as_admin: bool = False) -> nats.NATS:
    async def quiet(_exc: Exception) -> None:  # a failed connect is reported once, by the command
        return None

    return await access.nats_connect(url, as_admin=as_admin, name="tradectl-dlq", connect_timeout=5,
                                     max_reconnect_attempts=1, error_cb=quiet)


async def list_letters(url: str, service: str | None, as_json_lines: bool, out: TextIO = sys.stdout) -> int:
    nc = await _connect(url)
    try:
        items = await read_letters(nc.jetstream(), service)
    finally:
        await nc.close()
    if as_json_lines:
        for item in items:
            print(json.dumps(as_json(item)), file=out)
    elif not items:
        print("no dead letters" + (f" from {service}" if service else ""), file=out)
    else:
        print("\n".join(table(items)), file=out)
    return 0


async def replay_letters(url: str, ids: Sequence[int], *, every: bool, service: str | None, force: bool,
                         out: TextIO = sys.stdout) -> int:
    """Replay the letters ``ids`` (or, with ``every``, every letter not replayed yet); 1 if any was not replayed."""
    nc = await _connect(url, as_admin=True)  # it republishes another producer's event: an admin act
    failed = 0
    try:
        js = nc.jetstream()
        if every:
            items = [i for i in await read_letters(js, service) if force or i.replay is None]
        else:
            found = [(letter_id, await read_letter(js, letter_id)) for letter_id in ids]
            for letter_id, item in found:
                if item is None:
                    print(f"DLQ {letter_id}: no dead letter with this ID", file=out)
                    failed += 1
            items = [item for _, item in found if item is not None]
        for item in items:
            try:
                done = await replay(js, item, force=force)
            except ReplayRefused as exc:
                print(f"DLQ {item.id}: not replayed: {exc}", file=out)
                failed += 1
                continue
            except Exception as exc:
                print(f"DLQ {item.id}: replay failed ({type(exc).__name__}: {exc})", file=out)
                failed += 1
                continue
            note = ", a duplicate: JetStream had it already" if done.duplicate else ""
            print(f"DLQ {item.id}: replayed to {done.subject} ({done.stream} seq {done.stream_seq}, "
                  f"Nats-Msg-Id {done.msg_id}{note})", file=out)
        if every and not items:
            print("nothing to replay", file=out)
    finally:
        await nc.close()
    return 1 if failed else 0


def run_list(url: str, service: str | None, as_json_lines: bool) -> int:
    try:
        return asyncio.run(list_letters(url, service, as_json_lines))
    except Exception as exc:
        print(f"tradectl dlq list: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2


def run_replay(url: str, ids: Sequence[int], every: bool, service: str | None, force: bool) -> int:
    try:
        return asyncio.run(replay_letters(url, ids, every=every, service=service, force=force))
    except Exception as exc:
        print(f"tradectl dlq replay: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
