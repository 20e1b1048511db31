"""The intake's sequence with fakes for PostgreSQL and JetStream: exactly once, nothing lost, refusals change
nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from tradebus_contracts import Envelope
from webhook_ingest.intake import Delivery, Intake, Unavailable
from webhook_ingest.verify import Verifier

from .conftest import SECRET, encoded, signed_headers, trade_update

NOW = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)


class FakeJetStream:
    """Stores each event once per Nats-Msg-Id (= event_id), like a stream's duplicate window; can be 'down'."""

    def __init__(self) -> None:
        self.stored: dict[object, Envelope] = {}
        self.down = False

    async def publish(self, event: Envelope) -> None:
        if self.down:
            raise Unavailable("NATS: not connected")
        self.stored.setdefault(event.event_id, event)


class FakeDeliveries:
    def __init__(self) -> None:
        self.rows: dict[str, Delivery] = {}
        self.fail_next_remember = False

    async def seen(self, webhook_id: str) -> bool:
        return webhook_id in self.rows

    async def remember(self, delivery: Delivery) -> None:
        if self.fail_next_remember:  # e.g. the process died after the PubAck, before the commit
            self.fail_next_remember = False
            raise Unavailable("PostgreSQL: connection lost")
        self.rows.setdefault(delivery.webhook_id, delivery)


def intake(secrets=(SECRET,)) -> tuple[Intake, FakeDeliveries, FakeJetStream]:
    deliveries, stream = FakeDeliveries(), FakeJetStream()
    return Intake(Verifier(secrets), deliveries, stream, lambda: NOW, retry_after_s=7), deliveries, stream


def signed(body: dict, webhook_id: str = "msg_1") -> tuple[dict[str, str], bytes]:
    raw = encoded(body)
    return signed_headers(raw, webhook_id=webhook_id, timestamp=int(NOW.timestamp())), raw


async def test_receive_when_verified_then_published_once_remembered_and_200_accepted():
    receiver, deliveries, stream = intake()

    answer = await receiver.receive(*signed(trade_update("fill")))

    assert answer.status == 200 and answer.body["status"] == "accepted"
    [event] = stream.stored.values()
    assert event.event_type == "BrokerTradeUpdate" and answer.body["event_id"] == str(event.event_id)
    assert deliveries.rows["msg_1"].outcome == "published"
    assert deliveries.rows["msg_1"].subject == "broker.trade_updates.AAPL"


async def test_receive_when_the_id_was_answered_before_then_200_duplicate_and_nothing_published():
    receiver, deliveries, stream = intake()
    await receiver.receive(*signed(trade_update("fill")))
    stream.stored.clear()

    answer = await receiver.receive(*signed(trade_update("fill")))  # a retry: same id, fresh timestamp

    assert (answer.status, answer.body["status"]) == (200, "duplicate")
    assert stream.stored == {} and len(deliveries.rows) == 1


async def test_receive_when_verified_but_unmappable_then_dead_lettered_remembered_and_202():
    receiver, deliveries, stream = intake()

    answer = await receiver.receive(*signed({"event": "teleported", "order": {}}))

    assert (answer.status, answer.body["status"]) == (202, "dead_lettered")
    assert "unknown trade update event" in answer.body["message"]
    [letter] = stream.stored.values()
    assert letter.event_type == "DeadLetter" and deliveries.rows["msg_1"].outcome == "dead_lettered"
    assert (await receiver.receive(*signed({"event": "teleported"}))).status == 200  # a repeat: nothing more


async def test_receive_when_nats_is_down_then_503_retry_after_and_the_retry_lands_once():
    receiver, deliveries, stream = intake()
    stream.down = True

    refused = await receiver.receive(*signed(trade_update("fill")))
    stream.down = False
    retried = await receiver.receive(*signed(trade_update("fill")))

    assert (refused.status, refused.headers) == (503, {"Retry-After": "7"})
    assert retried.status == 200 and len(stream.stored) == 1 and len(deliveries.rows) == 1


async def test_receive_when_the_id_cannot_be_committed_after_the_puback_then_503_and_the_retry_is_the_same_event():
    receiver, deliveries, stream = intake()
    deliveries.fail_next_remember = True
    body = trade_update("fill")

    first = await receiver.receive(*signed(body))
    second = await receiver.receive(*signed(body))

    assert (first.status, second.status) == (503, 200)
    assert len(stream.stored) == 1  # the re-publish carried the same Nats-Msg-Id: dropped as a duplicate
    assert second.body["event_id"] == str(next(iter(stream.stored)))


async def test_receive_when_refused_then_nothing_is_published_or_remembered():
    receiver, deliveries, stream = intake()
    headers, raw = signed(trade_update("fill"))

    answers = [await receiver.receive({**headers, "webhook-signature": "v1,QUJD"}, raw),
               await receiver.receive(headers, raw + b" "),
               await receiver.receive({**headers, "webhook-timestamp": "1"}, raw)]

    assert [(a.status, a.body["code"]) for a in answers] == [
        (401, "SIGNATURE_MISMATCH"), (401, "SIGNATURE_MISMATCH"), (401, "TIMESTAMP_TOO_OLD")]
    assert stream.stored == {} and deliveries.rows == {}


async def test_receive_when_signed_but_not_json_then_400_and_nothing_published():
    receiver, deliveries, stream = intake()
    raw = b"fill: yes"
    headers = signed_headers(raw, webhook_id="msg_1", timestamp=int(NOW.timestamp()))

    answer = await receiver.receive(headers, raw)

    assert (answer.status, answer.body["code"]) == (400, "BODY_NOT_JSON")
    assert stream.stored == {} and deliveries.rows == {}


async def test_receive_when_no_secret_is_configured_then_503_and_nothing_verified():
    receiver, deliveries, stream = intake(secrets=())

    answer = await receiver.receive(*signed(trade_update("fill")))

    assert (answer.status, answer.body["code"]) == (503, "NOT_CONFIGURED")
    assert stream.stored == {} and deliveries.rows == {}
