"""The latency floors: the least a stage can do, in plain nats-py, each stage run as its own process.

The plain floor — no validation, no database, no checks, no logging, no broker call:

    python bench/floor.py risk NATS_URL      pull OrderRequested JSON from ORDERS, Ed25519-sign the canonical bytes,
                                             publish to risk.approved.*, ack
    python bench/floor.py gateway NATS_URL   pull those approvals from RISK, verify the signature, publish a marker
                                             on floor.verified.*, ack

The structural floor — the same, plus exactly the durable work DESIGN §5 requires and nothing more (one table each,
plain SQL, no checks, no outbox, no logging):

    python bench/floor.py durable-risk NATS_URL DATABASE_URL
        sign, commit the decisions of the fetched batch in one INSERT (PostgreSQL, fsync as configured), then publish
        them to risk.approved.* (JetStream, waiting for the PubAcks), ack
    python bench/floor.py durable-gateway NATS_URL DATABASE_URL BROKER_URL
        verify, commit the ``pending`` row, POST /v2/orders to the broker over one kept-alive HTTP/1.1 connection,
        commit the answer, publish a JSON ``OrderSubmitted`` stand-in to orders.submitted.* (JetStream), ack

Signing covers the RFC 8785 bytes of the request as tradebus makes them (`tradebus_contracts.signing.canonical_json`),
so the floors pay for canonical JSON what the services pay. `bench/risk_stage.py` runs the plain risk floor side by
side with the real risk-service; `bench/pipeline.py` runs both floors beside the real stack, so ratios are measured
in one run on one machine. The structural stages run on uvloop, as the services do.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Awaitable, Callable

import nats
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from tradebus_contracts.signing import canonical_json  # the RFC 8785 bytes tradebus signs, at the same cost

FETCH = 64


async def consume(url: str, subject: str, durable: str, stream: str,
                  handle: Callable[[nats.NATS, JetStreamContext, Msg], Awaitable[None]]) -> None:
    """Each fetched message to ``handle``, one after the other, then acked."""
    async def each(nc: nats.NATS, js: JetStreamContext, msgs: list[Msg]) -> None:
        for msg in msgs:
            await handle(nc, js, msg)
            await msg.ack()

    await batches(url, subject, durable, stream, each)


async def batches(url: str, subject: str, durable: str, stream: str,
                  handle: Callable[[nats.NATS, JetStreamContext, list[Msg]], Awaitable[None]]) -> None:
    """The whole fetched batch to ``handle`` (which acks)."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    sub = await js.pull_subscribe(subject, durable=durable, stream=stream)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))  # a bench helper: no state to save
    print("ready", flush=True)
    while True:
        try:
            msgs = await sub.fetch(FETCH, timeout=1)
        except (TimeoutError, nats.errors.TimeoutError):
            continue
        await handle(nc, js, msgs)


async def risk(url: str) -> None:
    key = Ed25519PrivateKey.generate()
    public_hex = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()

    async def sign(_: nats.NATS, js: JetStreamContext, msg: Msg) -> None:
        order = json.loads(msg.data)
        signature = key.sign(canonical_json(order))
        reply = {**order, "signature": signature.hex(), "public_key": public_hex}
        await js.publish(f"risk.approved.{order['symbol']}", json.dumps(reply).encode())

    await consume(url, "orders.requested.*", "floor", "ORDERS", sign)


async def gateway(url: str) -> None:
    async def verify(nc: nats.NATS, _: JetStreamContext, msg: Msg) -> None:
        approval = json.loads(msg.data)
        signature = bytes.fromhex(approval.pop("signature"))
        public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(approval.pop("public_key")))
        public.verify(signature, canonical_json(approval))
        await nc.publish(f"floor.verified.{approval['symbol']}", msg.data[:64])

    await consume(url, "risk.approved.*", "floor-gateway", "RISK", verify)


async def durable_risk(url: str, database_url: str) -> None:
    import asyncpg

    key = Ed25519PrivateKey.generate()
    public_hex = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()
    db = await asyncpg.connect(database_url)
    await db.execute("CREATE TABLE IF NOT EXISTS floor_decisions (order_id uuid PRIMARY KEY, approval text NOT NULL)")

    async def decide(_: nats.NATS, js: JetStreamContext, msgs: list[Msg]) -> None:
        approvals = []
        for msg in msgs:
            order = json.loads(msg.data)
            signature = key.sign(canonical_json(order))
            approvals.append({**order, "signature": signature.hex(), "public_key": public_hex})
        bodies = [json.dumps(a) for a in approvals]
        await db.execute("INSERT INTO floor_decisions SELECT * FROM unnest($1::uuid[], $2::text[]) "
                         "ON CONFLICT DO NOTHING", [a["order_id"] for a in approvals], bodies)  # committed first
        await asyncio.gather(*(js.publish(f"risk.approved.{a['symbol']}", b.encode(),
                                          headers={"Nats-Msg-Id": a["event_id"]})
                               for a, b in zip(approvals, bodies, strict=True)))
        await asyncio.gather(*(msg.ack() for msg in msgs))

    await batches(url, "orders.requested.*", "floor", "ORDERS", decide)


class KeptAlive:
    """One kept-alive HTTP/1.1 connection, requests one after the other: the least an HTTP client can do."""

    def __init__(self, base_url: str) -> None:
        self.host, _, port = base_url.removeprefix("http://").rstrip("/").partition(":")
        self.port = int(port or 80)
        self.connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None  # opened at the first POST

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        if self.connection is None:
            self.connection = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.connection
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        writer.write(f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
                          f"Content-Length: {len(body)}\r\n{head}\r\n".encode() + body)
        status_line, *lines = (await reader.readuntil(b"\r\n\r\n")).decode().split("\r\n")
        length = next(int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:"))
        return int(status_line.split()[1]), await reader.readexactly(length)


async def durable_gateway(url: str, database_url: str, broker_url: str) -> None:
    import asyncpg

    db = await asyncpg.connect(database_url)
    await db.execute("CREATE TABLE IF NOT EXISTS floor_orders (order_id uuid PRIMARY KEY, state text NOT NULL, "
                     "broker_order_id text)")
    broker = KeptAlive(broker_url)
    auth = {"APCA-API-KEY-ID": "floor", "APCA-API-SECRET-KEY": "floor"}

    async def submit(_: nats.NATS, js: JetStreamContext, msgs: list[Msg]) -> None:
        for msg in msgs:
            approval = json.loads(msg.data)
            signature = bytes.fromhex(approval.pop("signature"))
            public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(approval.pop("public_key")))
            public.verify(signature, canonical_json(approval))
            order_id = approval["order_id"]
            await db.execute("INSERT INTO floor_orders VALUES ($1, 'pending') ON CONFLICT DO NOTHING", order_id)
            body = {"symbol": approval["symbol"], "side": approval["side"], "type": approval["type"],
                    "time_in_force": approval["time_in_force"], "qty": approval["qty"],
                    "limit_price": approval["limit_price"], "client_order_id": order_id}
            status, answer = await broker.post("/v2/orders", json.dumps(body).encode(), auth)
            placed = json.loads(answer)
            await db.execute("UPDATE floor_orders SET state = 'submitted', broker_order_id = $2 WHERE order_id = $1",
                             order_id, placed.get("id"))
            submitted = {"event_type": "OrderSubmitted", "order_id": order_id, "broker_order_id": placed.get("id"),
                         "http_status": status}
            await js.publish(f"orders.submitted.{approval['symbol']}", json.dumps(submitted).encode(),
                             headers={"Nats-Msg-Id": f"submitted-{order_id}"})
            await msg.ack()

    await batches(url, "risk.approved.*", "floor-gateway", "RISK", submit)


if __name__ == "__main__":
    stage = sys.argv[1]
    if stage in ("risk", "gateway"):
        asyncio.run({"risk": risk, "gateway": gateway}[stage](os.environ.get("NATS_URL") or sys.argv[2]))
    else:
        import uvloop

        uvloop.run({"durable-risk": durable_risk, "durable-gateway": durable_gateway}[stage](*sys.argv[2:]))
