"""Pure core: may the recorder write to this table from this stream? Checked at every (re)start.

1. The AUDIT stream protects its history: deletes and purges denied, no age limit. A stream without them could lose
   messages before they are recorded, so the recorder refuses to run on it.
2. The stream is the one the table was recorded from: the same creation time (a stream deleted and recreated
   re-sources its sources under new sequences), it still reaches the table's head, and its message at the head's
   sequence has the head row's exact bytes (a row appended to the table by someone else fails here).
3. Nothing between the head and the stream's first message is gone.

Each check returns human-readable problems; an empty list means "go on".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class StreamProtection:
    deny_delete: bool
    deny_purge: bool
    max_age_s: float | None  # None or 0: no age limit


def protection_problems(stream: str, protection: StreamProtection) -> list[str]:
    problems = []
    if not protection.deny_delete:
        problems.append(f"{stream} allows deleting messages (deny_delete is off)")
    if not protection.deny_purge:
        problems.append(f"{stream} allows purging (deny_purge is off)")
    if protection.max_age_s:
        problems.append(f"{stream} drops messages older than {protection.max_age_s:g} s (max_age is set)")
    return problems


@dataclass(frozen=True, slots=True)
class StreamState:
    created: datetime
    first_seq: int
    last_seq: int
    payload_at_head: bytes | None  # the stream's message at the table's head sequence (None: no such message)


@dataclass(frozen=True, slots=True)
class TableState:
    head_seq: int
    head_payload: bytes | None
    recorded_from: datetime | None  # creation time of the stream the table was recorded from (None: not yet)


def continuity_problems(table: TableState, stream: StreamState) -> list[str]:
    if table.recorded_from is not None and table.recorded_from != stream.created:
        return [f"the AUDIT stream was deleted and recreated: it was created {stream.created.isoformat()}, the trail "
                f"was recorded from the stream created {table.recorded_from.isoformat()}"]
    if table.head_seq > stream.last_seq:
        return [f"the table holds sequence {table.head_seq} but the AUDIT stream ends at {stream.last_seq}"]
    if stream.first_seq > table.head_seq + 1 and stream.last_seq > table.head_seq:
        return [f"AUDIT messages {table.head_seq + 1}..{stream.first_seq - 1} are gone from the stream"]
    if table.head_seq > 0 and stream.payload_at_head != table.head_payload:
        return [f"row {table.head_seq} does not have the bytes of AUDIT stream message {table.head_seq}"]
    return []
