"""The verification core with plain values: what verifies, and every way a request is refused (400/401)."""

from __future__ import annotations

import base64
import time

import pytest
from standardwebhooks import Webhook

from webhook_ingest.verify import Refused, Verifier, parse_secrets

from .conftest import OTHER_SECRET, SECRET, encoded, new_secret, signed_headers, trade_update

NOW = 1_800_000_000
BODY = encoded(trade_update())


def refusal(verifier: Verifier, headers: dict[str, str], body: bytes = BODY, now: float = NOW) -> tuple[int, str]:
    with pytest.raises(Refused) as caught:
        verifier.verify(headers, body, now)
    return caught.value.status, caught.value.code


def test_verify_when_signed_with_the_official_library_then_verified_with_id_timestamp_and_exact_text():
    headers = signed_headers(BODY, webhook_id="msg_1", timestamp=NOW)

    verified = Verifier([SECRET]).verify(headers, BODY, NOW)

    assert (verified.webhook_id, verified.timestamp, verified.text.encode()) == ("msg_1", NOW, BODY)


def test_verify_when_signed_with_the_second_of_two_rotation_secrets_then_verified():
    headers = signed_headers(BODY, secret=OTHER_SECRET, timestamp=NOW)

    assert Verifier([SECRET, OTHER_SECRET]).verify(headers, BODY, NOW).timestamp == NOW


def test_verify_when_the_header_holds_several_signatures_then_each_is_tried():
    good = signed_headers(BODY, timestamp=NOW)
    stale_key = signed_headers(BODY, secret=new_secret(), webhook_id=good["webhook-id"], timestamp=NOW)
    headers = {**good, "webhook-signature": f"v1a,AAAA {stale_key['webhook-signature']} {good['webhook-signature']}"}

    assert Verifier([SECRET]).verify(headers, BODY, NOW).webhook_id == good["webhook-id"]


def test_verify_when_the_body_is_changed_after_signing_then_401_signature_mismatch():
    headers = signed_headers(BODY, timestamp=NOW)

    assert refusal(Verifier([SECRET]), headers, BODY.replace(b'"1"', b'"9"')) == (401, "SIGNATURE_MISMATCH")


def test_verify_when_signed_with_an_unknown_secret_then_401_signature_mismatch():
    headers = signed_headers(BODY, secret=new_secret(), timestamp=NOW)

    assert refusal(Verifier([SECRET, OTHER_SECRET]), headers) == (401, "SIGNATURE_MISMATCH")


@pytest.mark.parametrize(("age_s", "code"), [(301, "TIMESTAMP_TOO_OLD"), (-301, "TIMESTAMP_IN_FUTURE")])
def test_verify_when_the_timestamp_is_beyond_the_tolerance_either_way_then_401(age_s, code):
    headers = signed_headers(BODY, timestamp=NOW - age_s)

    assert refusal(Verifier([SECRET]), headers) == (401, code)


@pytest.mark.parametrize("age_s", [300, -300, 0])
def test_verify_when_the_timestamp_is_within_the_tolerance_then_verified(age_s):
    assert Verifier([SECRET]).verify(signed_headers(BODY, timestamp=NOW - age_s), BODY, NOW)


def test_verify_when_the_tolerance_is_configured_then_it_applies_instead_of_five_minutes():
    headers = signed_headers(BODY, timestamp=NOW - 900)

    assert Verifier([SECRET], tolerance_s=1_000).verify(headers, BODY, NOW)
    assert refusal(Verifier([SECRET], tolerance_s=60), signed_headers(BODY, timestamp=NOW - 61))[1] == \
        "TIMESTAMP_TOO_OLD"


@pytest.mark.parametrize("name", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_verify_when_a_header_is_missing_or_empty_then_400_missing_header(name):
    headers = signed_headers(BODY, timestamp=NOW)

    assert refusal(Verifier([SECRET]), {k: v for k, v in headers.items() if k != name}) == (400, "MISSING_HEADER")
    assert refusal(Verifier([SECRET]), {**headers, name: ""}) == (400, "MISSING_HEADER")


@pytest.mark.parametrize(("name", "value", "code"), [
    ("webhook-id", "msg.1", "BAD_WEBHOOK_ID"),  # the spec forbids '.': it separates the signed parts
    ("webhook-id", "msg 1", "BAD_WEBHOOK_ID"),
    ("webhook-id", "x" * 257, "BAD_WEBHOOK_ID"),
    ("webhook-timestamp", "1800000000.5", "BAD_WEBHOOK_TIMESTAMP"),  # the library would accept floats
    ("webhook-timestamp", "1.8e9", "BAD_WEBHOOK_TIMESTAMP"),
    ("webhook-timestamp", "01800000000", "BAD_WEBHOOK_TIMESTAMP"),
    ("webhook-timestamp", "-1800000000", "BAD_WEBHOOK_TIMESTAMP"),
    ("webhook-timestamp", "yesterday", "BAD_WEBHOOK_TIMESTAMP"),
    ("webhook-signature", "garbage", "BAD_WEBHOOK_SIGNATURE"),
    ("webhook-signature", "v1,abc,def", "BAD_WEBHOOK_SIGNATURE"),
    ("webhook-signature", "v1,!!!!", "BAD_WEBHOOK_SIGNATURE"),
    ("webhook-signature", "v1,QUJD=X", "BAD_WEBHOOK_SIGNATURE"),
    ("webhook-signature", " ".join(["v1,QUJD"] * 17), "BAD_WEBHOOK_SIGNATURE"),
    ("webhook-signature", "v2,QUJDRA==", "NO_V1_SIGNATURE"),  # wrong version prefix
    ("webhook-signature", "v1a,QUJDRA==", "NO_V1_SIGNATURE"),
])
def test_verify_when_a_header_is_malformed_then_400_with_its_code(name, value, code):
    headers = {**signed_headers(BODY, timestamp=NOW), name: value}

    assert refusal(Verifier([SECRET]), headers) == (400, code)


def test_verify_when_the_signature_is_base64_of_the_wrong_bytes_then_401():
    headers = {**signed_headers(BODY, timestamp=NOW), "webhook-signature": "v1," + base64.b64encode(b"x" * 32).decode()}

    assert refusal(Verifier([SECRET]), headers) == (401, "SIGNATURE_MISMATCH")


def test_verify_when_the_body_is_not_utf8_then_400_before_any_signature_is_computed():
    body = b"\xff\xfe{}"
    headers = signed_headers(b"{}", timestamp=NOW)

    assert refusal(Verifier([SECRET]), headers, body) == (400, "BODY_NOT_UTF8")


def test_library_when_the_signature_header_is_malformed_then_it_raises_valueerror_which_is_why_it_is_wrapped():
    headers = {**signed_headers(BODY, timestamp=int(time.time())), "webhook-signature": "garbage"}

    with pytest.raises(ValueError):
        Webhook(SECRET).verify(BODY, headers)


def test_parse_secrets_when_given_comma_and_newline_separated_values_then_each_once_in_order():
    assert parse_secrets([f"{SECRET}, {OTHER_SECRET}", f"\n{SECRET}\n"]) == (SECRET, OTHER_SECRET)
    assert parse_secrets(["", " "]) == ()


@pytest.mark.parametrize(("value", "problem"), [
    ("c2VjcmV0c2VjcmV0c2VjcmV0", "does not start with whsec_"),
    ("whsec_not base64!", "not valid base64"),
    ("whsec_" + base64.b64encode(b"short").decode(), "at least 16"),
])
def test_parse_secrets_when_a_secret_is_unusable_then_valueerror_naming_its_position_not_its_value(value, problem):
    with pytest.raises(ValueError, match=problem) as caught:
        parse_secrets([f"{SECRET},{value}"])

    assert "#2" in str(caught.value) and value not in str(caught.value)
