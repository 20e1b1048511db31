"""The running webhook-ingest process against real NATS and PostgreSQL: what it accepts lands once on the bus,
what it refuses changes nothing anywhere."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import httpx
import nats
import pytest

from tradebus_contracts import decode_event
from webhook_ingest.testing import raw_post, remembered, send_all

from .conftest import OTHER_SECRET, SECRET, encoded, new_secret, signed_headers, trade_update

pytestmark = pytest.mark.integration
LIMIT = 256 * 1024


@pytest.fixture
async def client():
    async with httpx.AsyncClient(timeout=10) as http:
        yield http


async def stored(nats_url: str, stream: str) -> list:
    """Every message of a stream, as (Nats-Msg-Id, event)."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        count = (await js.stream_info(stream)).state.messages
        messages = [await js.get_msg(stream, seq) for seq in range(1, count + 1)]
        return [((m.headers or {}).get("Nats-Msg-Id"), decode_event(m.data)) for m in messages]
    finally:
        await nc.drain()


async def chunks(chunk: bytes, times: int):
    for _ in range(times):
        yield chunk


async def test_webhooks_when_signed_with_either_rotation_secret_then_each_lands_once_and_repeats_change_nothing(
        ingest, client, nats_url, database_url):
    process = ingest
    bodies = [encoded(trade_update("fill")), encoded(trade_update("new"))]
    headers = [signed_headers(bodies[0], secret=SECRET), signed_headers(bodies[1], secret=OTHER_SECRET)]

    burst = encoded(trade_update("fill"))  # one more delivery, sent 20 times at once (a sender retrying too eagerly)
    copies = [raw_post(process.url, burst, signed_headers(burst, webhook_id="msg_burst")) for _ in range(20)]

    answers = [await client.post(process.url, content=b, headers=h) for b, h in zip(bodies, headers, strict=True)]
    replay = await client.post(process.url, content=bodies[0],  # the sender's retry: same id, fresh timestamp
                               headers=signed_headers(bodies[0], webhook_id=headers[0]["webhook-id"]))
    captured = await client.post(process.url, content=bodies[1], headers=headers[1])  # the same request, replayed
    burst_answers = await send_all(process.url, copies, connections=20)

    assert [a.status_code for a in answers] == [200, 200] and all(a.json()["status"] == "accepted" for a in answers)
    assert (replay.status_code, replay.json()["status"]) == (200, "duplicate")
    assert (captured.status_code, captured.json()["status"]) == (200, "duplicate")  # (older than 5 min: 401 stale)
    assert {a.status for a in burst_answers} == {200}
    on_bus = await stored(nats_url, "BROKER")
    assert [e.delivery_id for _, e in on_bus] == [h["webhook-id"] for h in headers] + ["msg_burst"]
    assert all(msg_id == str(e.event_id) for msg_id, e in on_bus)
    assert [str(e.event_id) for _, e in on_bus][:2] == [a.json()["event_id"] for a in answers]
    assert await remembered(database_url) == 3


async def test_requests_when_malformed_unauthentic_oversized_or_misrouted_then_4xx_with_a_reason_and_no_event(
        ingest, client, nats_url, database_url):
    process = ingest
    body = encoded(trade_update("fill"))
    good = signed_headers(body)
    cases = {
        "tampered body": (body.replace(b"187.30", b"1.00"), good),
        "wrong secret": (body, signed_headers(body, secret=new_secret())),
        "stale": (body, signed_headers(body, timestamp=int(good["webhook-timestamp"]) - 301)),
        "future": (body, signed_headers(body, timestamp=int(good["webhook-timestamp"]) + 301)),
        **{f"no {name}": (body, {k: v for k, v in good.items() if k != name})
           for name in ("webhook-id", "webhook-timestamp", "webhook-signature")},
        "garbage id": (body, {**good, "webhook-id": "a.b"}),
        "garbage timestamp": (body, {**good, "webhook-timestamp": "soon"}),
        "garbage signature": (body, {**good, "webhook-signature": "%%%"}),
        "wrong version prefix": (body, {**good, "webhook-signature": good["webhook-signature"].replace("v1,", "v2,")}),
        "not JSON": (b"fill=1", signed_headers(b"fill=1")),
        "oversized": (b"{" + b" " * LIMIT + b"}", good),
    }

    answers = {name: await client.post(process.url, content=b, headers=h) for name, (b, h) in cases.items()}
    chunked = await client.post(process.url, content=chunks(b" " * 65536, 5), headers=good)  # no Content-Length
    misrouted = [await client.get(process.base_url + "/nope"), await client.get(process.url)]

    for name, answer in answers.items():
        assert 400 <= answer.status_code < 500, (name, answer.status_code, answer.text)
        assert answer.json()["code"] and answer.json()["message"], name
    assert answers["oversized"].status_code == chunked.status_code == 413
    assert [(r.status_code, r.json()["code"]) for r in misrouted] == [(404, "NOT_FOUND"), (405, "METHOD_NOT_ALLOWED")]
    assert {answers[n].status_code for n in ("tampered body", "wrong secret", "stale", "future")} == {401}
    assert await stored(nats_url, "BROKER") == [] and await stored(nats_url, "DLQ") == []
    assert await remembered(database_url) == 0


async def answered_while_sending(url: str, headers: dict[str, str], body: bytes, *, chunk: int = 16 * 1024,
                                  declared: bool = False) -> tuple[int, int]:
    """POST ``body`` slowly, a chunk at a time (chunked, or after a ``Content-Length`` header when ``declared``: then
    only after a second without an answer), reading the answer meanwhile; returns its status and how many body bytes
    had been sent when it came."""
    target = urlsplit(url)
    reader, writer = await asyncio.open_connection(target.hostname, target.port)
    framing = f"content-length: {len(body)}" if declared else "transfer-encoding: chunked"
    head = [f"POST {target.path} HTTP/1.1", f"host: {target.netloc}", framing, *(f"{k}: {v}" for k, v in headers.items())]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
    answer = asyncio.create_task(reader.readuntil(b"\r\n\r\n"))
    if declared:
        await asyncio.wait([answer], timeout=1.0)
    sent = 0
    try:
        while sent < len(body) and not answer.done():
            piece = body[sent:sent + chunk]
            writer.write(piece if declared else f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            await writer.drain()
            sent += len(piece)
            await asyncio.sleep(0.002)  # a slow sender: the server has every chance to answer in between
        if not declared and not answer.done():
            writer.write(b"0\r\n\r\n")  # the end of a chunked body
    except ConnectionError:  # the server answered and closed while we were still writing
        pass
    status = int((await asyncio.wait_for(answer, 10)).split(b" ", 2)[1])
    writer.close()
    return status, sent


async def test_body_when_far_over_the_limit_then_413_before_the_client_has_sent_it(ingest):
    body = b" " * (8 * 1024 * 1024)  # 32 times the limit
    headers = signed_headers(b"{}")

    streamed = await answered_while_sending(ingest.url, headers, body)
    declared = await answered_while_sending(ingest.url, headers, body, declared=True)

    assert streamed[0] == 413 and streamed[1] <= 4 * LIMIT  # cut off soon after the limit, not read to the end
    assert declared == (413, 0)  # a Content-Length over the limit is refused before a byte of the body is read


async def test_webhook_when_verified_but_not_a_trade_update_then_kept_as_a_dead_letter_and_202(
        ingest, client, nats_url):
    process = ingest
    body = encoded({"event": "teleported", "order": {"id": "x"}})

    answer = await client.post(process.url, content=body, headers=signed_headers(body))

    assert (answer.status_code, answer.json()["status"]) == (202, "dead_lettered")
    [(_, letter)] = await stored(nats_url, "DLQ")
    assert letter.original_payload() == body and "teleported" in letter.reason
    assert await stored(nats_url, "BROKER") == []
