"""Signed approvals: only what risk signed, with a trusted key, before expiry, verifies."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import rfc8785
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tradebus_contracts import decode_event, encode_event, signing
from tradebus_contracts.orders import OrderFields

ISSUED = datetime(2026, 11, 24, 14, 30, 0, 500, tzinfo=UTC)
TTL = timedelta(seconds=30)


@pytest.fixture
def approved(sample_event, signing_key):
    return signing.sign_approval(sample_event("OrderRequested"), private_key=signing_key, issued_at=ISSUED, ttl=TTL,
                                 producer="risk-service")


def _rejection_code(approved, trusted, now=ISSUED + timedelta(seconds=1)) -> str:
    with pytest.raises(signing.ApprovalRejected) as caught:
        signing.verify_approval(approved, trusted, now)
    return caught.value.code


def test_verify_when_signed_by_trusted_key_and_fresh_then_passes(approved, trusted):
    signing.verify_approval(approved, trusted, ISSUED + timedelta(seconds=1))


def test_verify_when_approval_went_over_the_wire_then_still_passes(approved, trusted):
    signing.verify_approval(decode_event(encode_event(approved)), trusted, ISSUED + timedelta(seconds=1))


def test_sign_when_request_given_then_approval_links_to_it(sample_event, approved, signing_key):
    request = sample_event("OrderRequested")

    assert approved.order_id == request.order_id
    assert approved.causation_id == request.event_id
    assert approved.correlation_id == str(request.order_id)
    assert approved.expires_at == ISSUED + TTL
    assert approved.key_id == signing.key_id_for(signing_key.public_key())
    assert signing.signed_order(approved) == request.order_fields()


@pytest.mark.parametrize(("field", "value"), [("qty", Decimal("15.0")), ("limit_price", Decimal("410.11")),
                                              ("side", "sell"), ("symbol", "BRK.A"), ("extended_hours", True),
                                              ("expires_at", ISSUED + timedelta(days=1)), ("notional", Decimal("1"))])
def test_verify_when_a_signed_field_is_tampered_then_bad_signature(approved, trusted, field, value):
    body = json.loads(encode_event(approved))
    body[field] = value if isinstance(value, (str, bool)) else (
        value.isoformat().replace("+00:00", "Z") if isinstance(value, datetime) else str(value))
    tampered = decode_event(json.dumps(body))

    assert _rejection_code(tampered, trusted) == "BAD_SIGNATURE"


def test_verify_when_decimal_spelling_changes_then_bad_signature(approved, trusted):
    tampered = approved.model_copy(update={"qty": Decimal("1.5")})  # equal value, different wire string

    assert _rejection_code(tampered, trusted) == "BAD_SIGNATURE"


def test_verify_when_only_transport_fields_change_then_still_passes(approved, trusted):
    relayed = approved.model_copy(update={"producer": "relay", "occurred_at": ISSUED + timedelta(seconds=2)})

    signing.verify_approval(relayed, trusted, ISSUED + timedelta(seconds=3))


def test_verify_when_signed_by_another_key_with_the_trusted_key_id_then_bad_signature(sample_event, trusted):
    impostor = signing.generate_private_key()
    forged = signing.sign_approval(sample_event("OrderRequested"), private_key=impostor, key_id=next(iter(trusted)),
                                   issued_at=ISSUED, ttl=TTL, producer="attacker")

    assert _rejection_code(forged, trusted) == "BAD_SIGNATURE"


def test_verify_when_key_id_is_unknown_then_unknown_key_id(sample_event, trusted):
    stranger = signing.generate_private_key()
    approval = signing.sign_approval(sample_event("OrderRequested"), private_key=stranger, issued_at=ISSUED, ttl=TTL,
                                     producer="risk-service")

    assert _rejection_code(approval, trusted) == "UNKNOWN_KEY_ID"


def test_verify_when_now_is_at_or_after_expiry_then_expired(approved, trusted):
    assert _rejection_code(approved, trusted, now=ISSUED + TTL) == "EXPIRED"
    assert _rejection_code(approved, trusted, now=ISSUED + timedelta(hours=1)) == "EXPIRED"


def test_verify_when_issued_in_the_future_beyond_skew_then_not_yet_valid(approved, trusted):
    signing.verify_approval(approved, trusted, ISSUED - timedelta(seconds=4))  # within the default 5 s skew

    assert _rejection_code(approved, trusted, now=ISSUED - timedelta(seconds=10)) == "NOT_YET_VALID"


@pytest.mark.parametrize("signature", ["", "not base64!", base64.b64encode(b"short").decode(), "c2ln"])
def test_verify_when_signature_is_malformed_then_malformed(approved, trusted, signature):
    assert _rejection_code(approved.model_copy(update={"signature": signature}), trusted) == "MALFORMED"


def test_verify_when_expiry_not_after_issue_then_malformed(approved, trusted):
    broken = approved.model_copy(update={"expires_at": approved.issued_at})

    assert _rejection_code(broken, trusted) == "MALFORMED"


def test_verify_when_expired_and_forged_then_reported_as_forged(approved, trusted):
    forged = approved.model_copy(update={"qty": Decimal("999")})

    assert _rejection_code(forged, trusted, now=ISSUED + timedelta(days=1)) == "BAD_SIGNATURE"


def test_verify_when_two_keys_trusted_during_rotation_then_both_verify(sample_event):
    old_key, new_key = signing.generate_private_key(), signing.generate_private_key()
    trusted = signing.trusted_keys([signing.public_key_to_b64(old_key.public_key()),
                                    signing.public_key_to_b64(new_key.public_key()), ""])
    request = sample_event("OrderRequested")

    for key in (old_key, new_key):
        approval = signing.sign_approval(request, private_key=key, issued_at=ISSUED, ttl=TTL, producer="risk-service")
        signing.verify_approval(approval, trusted, ISSUED)

    retired = {k: v for k, v in trusted.items() if k != signing.key_id_for(old_key.public_key())}
    old_approval = signing.sign_approval(request, private_key=old_key, issued_at=ISSUED, ttl=TTL,
                                         producer="risk-service")
    assert _rejection_code(old_approval, retired) == "UNKNOWN_KEY_ID"


def test_verify_when_now_is_naive_then_programming_error(approved, trusted):
    with pytest.raises(ValueError, match="timezone-aware"):
        signing.verify_approval(approved, trusted, datetime(2026, 11, 24, 14, 30))


def test_canonical_bytes_when_encoded_then_rfc8785_of_signed_fields_only(approved):
    canonical = json.loads(signing.canonical_approval_bytes(approved))

    assert tuple(sorted(canonical)) == tuple(sorted(signing.SIGNED_FIELDS))
    assert "signature" not in canonical and "event_id" not in canonical and "producer" not in canonical
    assert {"order_id", "approval_id", "issued_at", "expires_at", "key_id", "qty", "limit_price"} <= set(canonical)
    assert canonical["qty"] == "1.50"
    assert canonical["issued_at"] == "2026-11-24T14:30:00.000500Z"
    assert signing.canonical_approval_bytes(approved) == \
        json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode()


_JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**53) + 1, 2**53 - 1),
                          st.text(st.characters(codec="utf-8")))


@settings(max_examples=500)
@example({"\U0001f600": 1, "\uffff": "\x1f\u2028\x7f\"\\\\é", "a": None, "b": True, "c": -(2**53) + 1})
@given(st.dictionaries(st.text(st.characters(codec="utf-8")), _JSON_SCALARS, max_size=8))
def test_canonical_json_when_any_flat_document_then_the_bytes_of_the_rfc8785_package(document):
    """Names beyond the BMP sort by UTF-16 code units, control characters escape in short or lowercase forms, and
    U+2028, DEL and non-ASCII pass as they are, exactly as RFC 8785 has it."""
    assert signing.canonical_json(document) == rfc8785.dumps(document)


@pytest.mark.parametrize("document", [{"k": "\ud800"}, {"\udfff": 1}, {"k": 2**53}, {"k": -(2**53)}])
def test_canonical_json_when_not_valid_unicode_or_beyond_exact_integers_then_refused_as_rfc8785_does(document):
    with pytest.raises(ValueError):
        signing.canonical_json(document)
    with pytest.raises(Exception):  # noqa: B017 — the package's own error types
        rfc8785.dumps(document)


def test_canonical_json_when_a_value_has_no_canonical_form_then_type_error():
    with pytest.raises(TypeError, match="float"):
        signing.canonical_json({"k": 1.5})


def test_signed_order_when_approved_then_exactly_the_order_fields(approved):
    order = signing.signed_order(approved)

    assert type(order) is OrderFields
    assert order.model_dump(mode="json") == {
        "symbol": "BRK.B", "side": "buy", "type": "limit", "time_in_force": "day", "qty": "1.50",
        "notional": None, "limit_price": "410.10", "stop_price": None, "extended_hours": False,
    }  # fmt: skip


def test_keys_when_serialised_then_load_back_and_keep_their_id(signing_key):
    for password in (None, b"correct horse"):
        pem = signing.private_key_to_pem(signing_key, password)
        loaded = signing.private_key_from_pem(pem, password)
        assert signing.key_id_for(loaded.public_key()) == signing.key_id_for(signing_key.public_key())
    public_b64 = signing.public_key_to_b64(signing_key.public_key())
    assert len(base64.b64decode(public_b64)) == 32
    assert signing.key_id_for(signing.public_key_from_b64(public_b64)) == signing.key_id_for(signing_key.public_key())
    assert len(signing.key_id_for(signing_key.public_key())) == 16


@pytest.mark.parametrize("text", ["not base64!", base64.b64encode(b"x" * 31).decode()])
def test_public_key_from_b64_when_not_a_key_then_value_error(text):
    with pytest.raises(ValueError):
        signing.public_key_from_b64(text)


def test_private_key_from_pem_when_not_ed25519_then_value_error():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())

    with pytest.raises(ValueError, match="Ed25519"):
        signing.private_key_from_pem(pem)
