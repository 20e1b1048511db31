"""The audit chain's exact definition and the checkpoint signatures, with plain values."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from tradebus_contracts import decode_event, encode_event
from tradebus_contracts.audit import (
    GENESIS_HASH,
    CheckpointRejected,
    canonical_checkpoint_bytes,
    chain_link,
    chain_step,
    payload_digest,
    sign_checkpoint,
    verify_checkpoint,
)
from tradebus_contracts.signing import generate_private_key, key_id_for

SIGNED_AT = datetime(2026, 11, 24, 14, 30, 0, 500, tzinfo=UTC)


def test_chain_step_when_computed_then_it_is_sha256_of_previous_seq_big_endian_and_payload_digest():
    payload = b'{"event_type":"OrderRequested"}'

    h1 = chain_step(GENESIS_HASH, 1, payload)

    expected = hashlib.sha256(bytes(32) + (1).to_bytes(8, "big") + hashlib.sha256(payload).digest()).digest()
    assert h1 == expected
    assert h1 == chain_link(GENESIS_HASH, 1, payload_digest(payload))


def test_chain_step_when_known_vector_then_hex_is_fixed():
    # A fixed vector: any change to the encoding (seq width, byte order, genesis) changes it and breaks old trails.
    h1 = chain_step(GENESIS_HASH, 1, b"a")
    h2 = chain_step(h1, 2, b"b")

    assert h2.hex() == hashlib.sha256(
        h1 + bytes.fromhex("0000000000000002") + hashlib.sha256(b"b").digest()).hexdigest()
    assert h1.hex() == hashlib.sha256(
        bytes(32) + bytes.fromhex("0000000000000001") + hashlib.sha256(b"a").digest()).hexdigest()


def test_chain_step_when_same_payload_at_another_seq_then_hash_differs():
    assert chain_step(GENESIS_HASH, 1, b"x") != chain_step(GENESIS_HASH, 2, b"x")


def test_chain_step_when_seq_does_not_fit_in_eight_bytes_then_refused():
    with pytest.raises(OverflowError):
        chain_step(GENESIS_HASH, 2**64, b"x")


def test_chain_link_when_previous_is_not_32_bytes_then_refused():
    with pytest.raises(ValueError):
        chain_link(b"short", 1, payload_digest(b"x"))


def test_checkpoint_when_signed_then_it_verifies_and_survives_the_wire(signing_key, trusted):
    checkpoint = sign_checkpoint(1000, chain_step(GENESIS_HASH, 1, b"x"), private_key=signing_key,
                                 signed_at=SIGNED_AT, producer="audit-recorder")

    again = decode_event(encode_event(checkpoint))

    verify_checkpoint(again, trusted)
    assert again.seq == 1000 and again.key_id == key_id_for(signing_key.public_key())


def test_checkpoint_when_canonical_bytes_then_rfc8785_of_the_four_fields():
    data = canonical_checkpoint_bytes(7, "ab" * 32, SIGNED_AT, "kid")

    assert data == (b'{"head_hash":"' + b"ab" * 32 + b'","key_id":"kid","seq":7,'
                    b'"signed_at":"2026-11-24T14:30:00.000500Z"}')


@pytest.mark.parametrize("change", [
    {"seq": 1001},
    {"head_hash": "11" * 32},
    {"signed_at": SIGNED_AT + timedelta(seconds=1)},
])
def test_checkpoint_when_a_signed_field_changes_then_bad_signature(change, signing_key, trusted):
    checkpoint = sign_checkpoint(1000, bytes(32), private_key=signing_key, signed_at=SIGNED_AT,
                                 producer="audit-recorder")

    with pytest.raises(CheckpointRejected) as caught:
        verify_checkpoint(checkpoint.model_copy(update=change), trusted)

    assert caught.value.code == "BAD_SIGNATURE"


def test_checkpoint_when_signed_by_another_key_then_unknown_key_id(trusted):
    forged = sign_checkpoint(5, bytes(32), private_key=generate_private_key(), signed_at=SIGNED_AT,
                             producer="audit-recorder")

    with pytest.raises(CheckpointRejected) as caught:
        verify_checkpoint(forged, trusted)

    assert caught.value.code == "UNKNOWN_KEY_ID"


def test_checkpoint_when_another_key_claims_the_trusted_key_id_then_bad_signature(signing_key, trusted):
    forged = sign_checkpoint(5, bytes(32), private_key=generate_private_key(), signed_at=SIGNED_AT,
                             producer="audit-recorder")
    forged = forged.model_copy(update={"key_id": key_id_for(signing_key.public_key())})

    with pytest.raises(CheckpointRejected) as caught:
        verify_checkpoint(forged, trusted)

    assert caught.value.code == "BAD_SIGNATURE"


@pytest.mark.parametrize(("signature", "code"), [("not base64!", "MALFORMED"),
                                               (base64.b64encode(b"x" * 10).decode(), "BAD_SIGNATURE")])
def test_checkpoint_when_signature_malformed_then_refused(signature, code, signing_key, trusted):
    checkpoint = sign_checkpoint(5, bytes(32), private_key=signing_key, signed_at=SIGNED_AT, producer="a")

    with pytest.raises(CheckpointRejected) as caught:
        verify_checkpoint(checkpoint.model_copy(update={"signature": signature}), trusted)

    assert caught.value.code == code
