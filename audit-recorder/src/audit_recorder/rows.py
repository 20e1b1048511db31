"""Pure core: AUDIT stream messages -> chained rows, and where to resume.

The recorder holds the `Head` of the table (its last sequence and hash). A fetched batch is planned against it:
each message with the next sequence becomes a row chained to the one before (``tradebus_contracts.audit``); a
sequence at or below the head was already recorded (a consumer re-delivers after a reset) and is skipped; a
sequence beyond the next one means the consumer skipped something, so the plan stops there and asks to re-read
from the next sequence. The table therefore only ever grows by exactly ``head.seq + 1``: no gap, no duplicate.

The descriptive columns (event type, event id, correlation id, occurred-at) are read leniently from the JSON: the
trail records every message the stream holds, a malformed one included (its columns are then NULL), because the
audit trail is a record of what was on the bus, not of what was valid.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from tradebus_contracts.audit import GENESIS_HASH, chain_step

__all__ = ["Head", "START", "StreamMessage", "AuditRow", "BatchPlan", "describe", "plan_batch", "ROW_COLUMNS"]


@dataclass(frozen=True, slots=True)
class Head:
    """The newest row of the table: the chain continues from here."""

    seq: int
    hash: bytes


START = Head(0, GENESIS_HASH)


@dataclass(frozen=True, slots=True)
class StreamMessage:
    """One AUDIT stream message as the shell read it."""

    seq: int
    subject: str
    payload: bytes
    stored_at: datetime  # when AUDIT stored it (JetStream's timestamp)


@dataclass(frozen=True, slots=True)
class AuditRow:
    seq: int
    subject: str
    event_type: str | None
    event_id: UUID | None
    correlation_id: str | None
    occurred_at: datetime | None
    stored_at: datetime
    payload: bytes
    hash: bytes

    def record(self) -> tuple[Any, ...]:
        """The row's values in `ROW_COLUMNS` order (for COPY)."""
        return (self.seq, self.subject, self.event_type, self.event_id, self.correlation_id, self.occurred_at,
                self.stored_at, self.payload, self.hash)


ROW_COLUMNS = ("seq", "subject", "event_type", "event_id", "correlation_id", "occurred_at", "stored_at", "payload",
               "hash")


@dataclass(frozen=True, slots=True)
class Description:
    event_type: str | None = None
    event_id: UUID | None = None
    correlation_id: str | None = None
    occurred_at: datetime | None = None


def describe(payload: bytes) -> Description:
    """The envelope fields worth an index, or None for each one the payload does not carry in a usable form."""
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return Description()
    if not isinstance(data, dict):
        return Description()
    return Description(_text(data.get("event_type")), _uuid(data.get("event_id")), _text(data.get("correlation_id")),
                       _time(data.get("occurred_at")))


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _uuid(value: object) -> UUID | None:
    try:
        return UUID(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo is not None else None


@dataclass(frozen=True, slots=True)
class BatchPlan:
    rows: list[AuditRow]
    head: Head  # the head once ``rows`` are written
    resume_from: int | None = None  # set when the batch skipped a sequence: re-read from here


def plan_batch(head: Head, messages: Iterable[StreamMessage]) -> BatchPlan:
    rows: list[AuditRow] = []
    for message in messages:
        if message.seq <= head.seq:
            continue
        if message.seq != head.seq + 1:
            return BatchPlan(rows, head, resume_from=head.seq + 1)
        head = Head(message.seq, chain_step(head.hash, message.seq, message.payload))
        about = describe(message.payload)
        rows.append(AuditRow(message.seq, message.subject, about.event_type, about.event_id, about.correlation_id,
                             about.occurred_at, message.stored_at, message.payload, head.hash))
    return BatchPlan(rows, head)
