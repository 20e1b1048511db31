"""Pure core of ``tradectl audit verify``: the table, the AUDIT stream and the checkpoints in, findings out.

The walk goes through the sequences in chunks (so a long history never sits in memory) and compares three things:

* the table with itself — each row's hash must be ``chain_link(previous row's hash, seq, SHA-256(payload))``
  (``tradebus_contracts.audit``); checking each link against the stored previous hash pins a broken link to the row;
* the table with the AUDIT stream — every stream message has a row with identical bytes (compared by digest), and
  every row has a stream message;
* the table with the signed checkpoints — each checkpoint's head hash equals the row hash at its sequence, and no
  checkpoint vouches for a sequence the table no longer has.

What each kind of finding means:

``edited``              a row's bytes differ from the stream message, or its hash does not chain;
``inserted``            a row the AUDIT stream never had;
``deleted``             a row missing before the table's head while the stream has the message;
``truncated``           rows missing at the end: the stream or a signed checkpoint goes further than the table;
``checkpoint mismatch`` a checkpoint whose head hash differs from the table's, or whose signature does not verify;
``stream missing``      the AUDIT stream is gone, or was deleted and recreated (another creation time).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from tradebus_contracts.audit import GENESIS_HASH, CheckpointRejected, chain_link, payload_digest
from tradebus_contracts.events import AuditCheckpoint

EDITED = "edited"
INSERTED = "inserted"
DELETED = "deleted"
TRUNCATED = "truncated"
CHECKPOINT_MISMATCH = "checkpoint mismatch"
STREAM_MISSING = "stream missing"
ABSENT = bytes(32)
"""The digest the stream reader gives a sequence the stream does not hold."""


@dataclass(frozen=True, order=True, slots=True)
class Finding:
    seq: int
    kind: str
    detail: str


class Row(NamedTuple):
    """A table row as the walk needs it (any ``(seq, payload, hash)`` sequence will do, e.g. a database record)."""

    seq: int
    payload: bytes
    hash: bytes


@dataclass(frozen=True, slots=True)
class StreamView:
    """What the stream can tell: ``None`` digests when it is missing or not the recorded one."""

    last_seq: int
    comparable: bool


@dataclass
class Walk:
    """The state carried from one chunk to the next. ``previous`` is the stored hash of the row before the next
    sequence (``None`` when that row is missing, so the next link cannot be checked and the gap is reported)."""

    table_head: int
    stream: StreamView
    previous: bytes | None
    wanted: frozenset[int] = frozenset()  # sequences whose row hash a checkpoint names
    hashes: dict[int, bytes] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    rows_checked: int = 0
    gap_open: bool = False  # the last chunk ended inside a gap: its findings are already made

    @classmethod
    def starting_at(cls, first_seq: int, previous_row_hash: bytes | None, table_head: int, stream: StreamView,
                    wanted: Iterable[int] = ()) -> Walk:
        previous = GENESIS_HASH if first_seq == 1 else previous_row_hash
        if first_seq > 1 and previous is None:
            raise ValueError(f"no row {first_seq - 1} to start the chain from")
        return cls(table_head, stream, previous, frozenset(wanted))

    def check_chunk(self, lo: int, hi: int, rows: Iterable[Sequence[Any]], stream_digests: bytes | None) -> None:
        """Sequences ``lo..hi``: the table's rows in that range, ascending, each ``(seq, payload, hash)``, and the
        stream's digests, 32 bytes per sequence (``ABSENT`` where the stream has none; ``None`` when the stream
        cannot be compared)."""
        digests = stream_digests if self.stream.comparable else None
        expected = lo
        for seq, payload, row_hash in rows:
            if seq > expected:
                self._missing(expected, seq - 1, digests, lo)
                self.previous = None
            self.gap_open = False
            if digests is None:
                stream_digest = None
            else:
                offset = (seq - lo) * 32
                stream_digest = digests[offset:offset + 32] if offset + 32 <= len(digests) else ABSENT
            self._row(seq, payload, row_hash, stream_digest)
            expected = seq + 1
        if expected <= hi:
            self._missing(expected, hi, digests, lo)
            self.previous = None
            self.gap_open = True

    def _stream_digest(self, digests: bytes | None, lo: int, seq: int) -> bytes | None:
        if digests is None:
            return None
        offset = (seq - lo) * 32
        return digests[offset:offset + 32] if offset + 32 <= len(digests) else ABSENT

    def _row(self, seq: int, payload: bytes, row_hash: bytes, stream_digest: bytes | None) -> None:
        digest = payload_digest(payload)
        self.rows_checked += 1
        if seq in self.wanted:
            self.hashes[seq] = row_hash
        if stream_digest == ABSENT:
            self.findings.append(Finding(seq, INSERTED, f"row {seq} is not in the AUDIT stream"))
        elif stream_digest is not None and stream_digest != digest:
            self.findings.append(Finding(seq, EDITED, f"row {seq}'s bytes differ from AUDIT message {seq}"))
        elif self.previous is not None and chain_link(self.previous, seq, digest) != row_hash:
            self.findings.append(Finding(seq, EDITED, f"row {seq}'s hash does not chain from row {seq - 1}"))
        self.previous = row_hash

    def _missing(self, first: int, last: int, digests: bytes | None, lo: int) -> None:
        """No rows ``first..last``: where the stream (when comparable) or the head says there should be."""
        if first == lo and self.gap_open:
            return
        if first > self.table_head:
            if self.stream.comparable and first <= self.stream.last_seq:
                last = min(last, self.stream.last_seq)
                self.findings.append(Finding(first, TRUNCATED, f"rows {first}..{last} are missing at the end of the "
                                             f"table (AUDIT has them; the table ends at {self.table_head})"))
            return
        last = min(last, self.table_head)
        if digests is not None and self.stream.comparable:
            held = [s for s in range(first, last + 1) if self._stream_digest(digests, lo, s) != ABSENT]
            if not held:
                return
            first = held[0]
        self.findings.append(Finding(first, DELETED, f"rows {first}..{last} are missing before the table's head "
                                     f"({self.table_head})"))


@dataclass(frozen=True, slots=True)
class CheckpointSeen:
    checkpoint: AuditCheckpoint
    problem: CheckpointRejected | None  # None: the signature verifies under a trusted key


def checkpoint_findings(checkpoints: Iterable[CheckpointSeen], first_seq: int, table_head: int,
                        hashes: dict[int, bytes]) -> list[Finding]:
    """Each signed checkpoint against the table: its signature, and its head hash where the table has the row."""
    findings = []
    for seen in checkpoints:
        cp = seen.checkpoint
        if seen.problem is not None:
            findings.append(Finding(cp.seq, CHECKPOINT_MISMATCH, f"checkpoint of seq {cp.seq} signed "
                                    f"{_when(cp.signed_at)}: {seen.problem.message}"))
        elif cp.seq > table_head and cp.seq >= first_seq:
            findings.append(Finding(table_head + 1, TRUNCATED, f"the table ends at {table_head} but a checkpoint "
                                    f"signed {_when(cp.signed_at)} vouches for seq {cp.seq}"))
        elif cp.seq in hashes and hashes[cp.seq].hex() != cp.head_hash:
            findings.append(Finding(cp.seq, CHECKPOINT_MISMATCH, f"row {cp.seq}'s hash differs from the checkpoint "
                                    f"signed {_when(cp.signed_at)}"))
    return findings


def newest_valid(checkpoints: Iterable[CheckpointSeen]) -> AuditCheckpoint | None:
    valid = [seen.checkpoint for seen in checkpoints if seen.problem is None]
    return max(valid, key=lambda cp: (cp.seq, cp.signed_at), default=None)


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")
