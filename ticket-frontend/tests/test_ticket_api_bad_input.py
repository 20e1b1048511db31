"""Bad input to the ticket API over HTTP, against a real server: a JSON NaN, Infinity or 1e400 in any decimal is a
422 (it was a 500: the refusal could not be encoded); a JSON number with more digits than a float holds reaches risk
with every digit (it was rounded to a float's 17, and risk approved what it would have refused); a body over 64 KiB
is a 413 before it is read whole; no error reply quotes more than a short excerpt of what was sent."""

from __future__ import annotations

import socket

import pytest

from .conftest import eventually

pytestmark = pytest.mark.integration

ORDER = '{"symbol": "AAPL", "side": "buy", "type": "limit", "time_in_force": "day", "qty": "1", "limit_price": "1"'
ENDPOINTS = ("/api/orders", "/api/orders/preview")


def post_raw(ticket, path: str, body: str):
    with ticket.client() as c:
        return c.post(path, content=body, headers={"content-type": "application/json"})


def test_order_when_a_decimal_is_not_finite_or_huge_then_4xx_with_a_short_reply(ticket):
    numbers = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1e309", "9" * 5000]
    statuses = set()
    for field in ("qty", "notional", "limit_price", "stop_price"):
        for number in numbers:
            body = ORDER + f', "{field}": {number}}}'  # a repeated key: the last one counts
            for path in ENDPOINTS:
                r = post_raw(ticket, path, body)
                statuses.add(r.status_code)
                assert r.status_code in (400, 422) and len(r.content) < 2000, (field, number[:10], path, r.text)

    assert statuses == {400, 422}  # 400: an integer too long for Python to read (over 4,300 digits)


EXACT = {"qty": "1.000000000000000000000000000001", "limit_price": "187.2500000000000000001"}
EXACT_NUMBERS = ORDER.replace('"qty": "1", "limit_price": "1"', ", ".join(f'"{k}": {v}' for k, v in EXACT.items()))


def test_preview_when_json_numbers_have_more_digits_than_a_float_then_risk_is_asked_about_every_digit(ticket):
    r = post_raw(ticket, "/api/orders/preview", EXACT_NUMBERS + "}")

    assert r.status_code == 200, r.text
    asked = ticket.risk_requests[-1]
    assert {k: asked[k] for k in EXACT} == EXACT  # risk counts 30 and 19 decimals: QTY_TOO_MANY_DECIMALS, SUB_PENNY


def test_order_when_json_numbers_have_more_digits_than_a_float_then_the_order_requested_carries_every_digit(ticket):
    r = post_raw(ticket, "/api/orders", EXACT_NUMBERS + "}")

    assert r.status_code == 202, r.text
    order_id = r.json()["order_id"]
    with ticket.client() as c:
        order = eventually(lambda: (o := c.get(f"/api/orders/{order_id}")).status_code == 200 and o.json())
    (requested,) = order["timeline"]
    assert {k: requested["event"][k] for k in EXACT} == EXACT and {k: order[k] for k in EXACT} == EXACT


@pytest.mark.parametrize("number", ["1e-400", "1e41", "1.0000000000000000000000000000000000000001"])
def test_order_when_a_json_number_is_past_the_wire_bound_then_422_instead_of_a_rounded_float(ticket, number):
    for path in ENDPOINTS:
        r = post_raw(ticket, path, ORDER + f', "qty": {number}}}')

        assert r.status_code == 422, (path, r.text)  # as floats, 1e-400 was 0.0 and the 41 digits were 1.0
        assert r.json()["detail"][0]["loc"] == ["body", "qty"] and "40 digits" in r.json()["detail"][0]["msg"]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_order_when_a_decimal_is_a_non_finite_json_constant_then_422_naming_the_field(ticket, constant):
    r = post_raw(ticket, "/api/orders/preview", ORDER + f', "limit_price": {constant}}}')

    assert r.status_code == 422
    (error,) = r.json()["detail"]
    assert error["loc"] == ["body", "limit_price"] and "finite" in error["msg"]


def test_order_when_a_field_is_a_60_kib_string_then_the_422_quotes_only_an_excerpt(ticket):
    with ticket.client() as c:
        r = c.post("/api/orders", json={"symbol": "AAPL", "side": "buy", "type": "limit", "time_in_force": "day",
                                        "qty": "x" * 60_000, "limit_price": "1"})

    assert r.status_code == 422 and len(r.content) < 1000
    (error,) = r.json()["detail"]
    assert error["loc"] == ["body", "qty"] and error["input"] == "x" * 40 + "…"


def test_order_when_it_has_a_thousand_unknown_fields_then_the_422_lists_a_few(ticket):
    body = ORDER + "".join(f', "f{i}": {i}' for i in range(1000)) + "}"

    r = post_raw(ticket, "/api/orders", body)

    assert r.status_code == 422 and len(r.json()["detail"]) == 20


@pytest.mark.parametrize("path", ENDPOINTS)
def test_order_when_the_body_is_over_64_kib_then_413(ticket, path):
    r = post_raw(ticket, path, ORDER + ', "order_id": "' + "0" * 70_000 + '"}')

    assert r.status_code == 413 and "65536" in r.json()["detail"]


def raw_request(ticket, head: str, body: bytes) -> bytes:
    """Send a request by hand (a length the client does not honour); the server's first answer."""
    with socket.create_connection(("127.0.0.1", ticket.port), timeout=5) as s:
        s.sendall(head.encode() + body)
        return s.recv(4096)


def test_order_when_the_declared_length_is_huge_then_413_without_waiting_for_the_body(ticket):
    answer = raw_request(ticket, "POST /api/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                 "Content-Length: 100000000\r\n\r\n", b"{")

    assert answer.startswith(b"HTTP/1.1 413")


def test_order_when_a_chunked_body_passes_64_kib_then_413_without_waiting_for_its_end(ticket):
    chunk = b"x" * 70_000
    answer = raw_request(ticket, "POST /api/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                 "Transfer-Encoding: chunked\r\n\r\n", f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")

    assert answer.startswith(b"HTTP/1.1 413")


def test_order_when_small_then_the_limit_changes_nothing(ticket):
    r = post_raw(ticket, "/api/orders", ORDER + "}")

    assert r.status_code == 202
