"""The verification core with plain values: a trail, a stream, checkpoints in; the first failing sequence and its
kind out."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tradebus_contracts.audit import GENESIS_HASH, CheckpointRejected, chain_step, payload_digest, sign_checkpoint
from tradebus_contracts.signing import generate_private_key
from tradectl.audit_check import (
    ABSENT,
    CHECKPOINT_MISMATCH,
    DELETED,
    EDITED,
    INSERTED,
    TRUNCATED,
    CheckpointSeen,
    Row,
    StreamView,
    Walk,
    checkpoint_findings,
    newest_valid,
)

T0 = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)
KEY = generate_private_key()


def trail(n: int) -> list[Row]:
    rows, previous = [], GENESIS_HASH
    for seq in range(1, n + 1):
        payload = f'{{"n":{seq}}}'.encode()
        previous = chain_step(previous, seq, payload)
        rows.append(Row(seq, payload, previous))
    return rows


def digests(rows: list[Row]) -> bytes:
    return b"".join(payload_digest(r.payload) for r in rows)


def walk(table: list[Row], stream: list[Row], *, chunk: int = 4, comparable: bool = True, wanted=()) -> Walk:
    head = max((r.seq for r in table), default=0)
    state = Walk.starting_at(1, None, head, StreamView(len(stream), comparable), wanted)
    by_seq = {r.seq: r for r in stream}
    end = max(head, len(stream) if comparable else 0)
    for lo in range(1, end + 1, chunk):
        hi = min(lo + chunk - 1, end)
        seen = b"".join(payload_digest(by_seq[s].payload) if s in by_seq else ABSENT for s in range(lo, hi + 1))
        state.check_chunk(lo, hi, [r for r in table if lo <= r.seq <= hi], seen if comparable else None)
    return state


def first(state: Walk) -> tuple[int, str]:
    finding = min(state.findings)
    return finding.seq, finding.kind


def test_walk_when_table_and_stream_agree_then_no_finding():
    rows = trail(10)

    state = walk(rows, rows)

    assert state.findings == [] and state.rows_checked == 10


def test_walk_when_a_payload_byte_is_edited_then_edited_at_that_seq():
    rows = trail(10)
    table = [r._replace(payload=r.payload.replace(b"7", b"8")) if r.seq == 7 else r for r in rows]

    assert first(walk(table, rows)) == (7, EDITED)


def test_walk_when_a_hash_is_rewritten_then_edited_at_that_seq_even_without_the_stream():
    rows = trail(10)
    table = [r._replace(hash=bytes(32)) if r.seq == 5 else r for r in rows]

    assert first(walk(table, rows, comparable=False)) == (5, EDITED)


def test_walk_when_an_edit_is_rechained_to_the_end_then_the_stream_still_names_the_row():
    rows = trail(10)
    forged, previous = [], GENESIS_HASH
    for r in rows:
        payload = b'{"n":99}' if r.seq == 4 else r.payload
        previous = chain_step(previous, r.seq, payload)
        forged.append(Row(r.seq, payload, previous))

    assert first(walk(forged, rows)) == (4, EDITED)


def test_walk_when_a_row_is_deleted_then_deleted_at_that_seq():
    rows = trail(10)

    assert first(walk([r for r in rows if r.seq != 6], rows)) == (6, DELETED)


def test_walk_when_a_row_is_deleted_and_the_stream_is_gone_then_still_deleted():
    rows = trail(10)

    assert first(walk([r for r in rows if r.seq != 6], rows, comparable=False)) == (6, DELETED)


def test_walk_when_a_row_is_appended_that_the_stream_never_had_then_inserted():
    rows = trail(11)

    assert first(walk(rows, rows[:10])) == (11, INSERTED)


def test_walk_when_the_last_rows_are_deleted_then_truncated_at_the_first_missing():
    rows = trail(10)

    assert first(walk(rows[:5], rows)) == (6, TRUNCATED)


def test_walk_when_gap_spans_a_chunk_boundary_then_one_finding_at_its_start():
    rows = trail(12)

    state = walk([r for r in rows if r.seq not in (4, 5, 6)], rows, chunk=4)

    assert [(f.seq, f.kind) for f in state.findings] == [(4, DELETED)]


def test_walk_when_started_after_one_without_the_previous_row_then_refused():
    with pytest.raises(ValueError):
        Walk.starting_at(5, None, 10, StreamView(10, True))


def checkpoint(seq: int, head: bytes, key=KEY) -> CheckpointSeen:
    return CheckpointSeen(sign_checkpoint(seq, head, private_key=key, signed_at=T0, producer="audit-recorder"), None)


def test_checkpoints_when_each_matches_the_row_hash_then_no_finding():
    rows = trail(10)
    state = walk(rows, rows, wanted=(5, 10))

    found = checkpoint_findings([checkpoint(5, rows[4].hash), checkpoint(10, rows[9].hash)], 1, 10, state.hashes)

    assert found == [] and state.hashes == {5: rows[4].hash, 10: rows[9].hash}


def test_checkpoints_when_the_table_was_rewritten_consistently_then_checkpoint_mismatch():
    rows = trail(10)

    found = checkpoint_findings([checkpoint(10, bytes(32))], 1, 10, {10: rows[9].hash})

    assert [(f.seq, f.kind) for f in found] == [(10, CHECKPOINT_MISMATCH)]


def test_checkpoints_when_one_vouches_beyond_the_table_then_truncated_after_the_head():
    found = checkpoint_findings([checkpoint(10, bytes(32))], 1, 7, {})

    assert [(f.seq, f.kind) for f in found] == [(8, TRUNCATED)]


def test_checkpoints_when_signature_rejected_then_checkpoint_mismatch_and_not_the_newest():
    good = checkpoint(5, bytes(32))
    bad = CheckpointSeen(checkpoint(9, bytes(32)).checkpoint, CheckpointRejected("BAD_SIGNATURE", "forged"))

    found = checkpoint_findings([good, bad], 1, 9, {})

    assert [(f.seq, f.kind) for f in found] == [(9, CHECKPOINT_MISMATCH)] and "forged" in found[0].detail
    assert newest_valid([good, bad]) == good.checkpoint
