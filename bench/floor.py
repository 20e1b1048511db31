"""The latency floor: the least a stage can do, in plain nats-py, each stage run as its own process.

    python bench/floor.py risk NATS_URL      pull OrderRequested JSON from ORDERS, Ed25519-sign the canonical bytes,
                                             publish to risk.approved.*, ack
    python bench/floor.py gateway NATS_URL   pull those approvals from RISK, verify the signature, publish a marker
                                             on floor.verified.*, ack

No validation, no database, no checks, no logging, no broker call. `bench/risk_stage.py` runs the risk floor side by
side with the real risk-service; `bench/pipeline.py` runs both as the 3-hop floor (request -> risk signs -> gateway
verifies) beside the real stack, so ratios are measured in one run on one machine.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Awaitable, Callable

import nats
import rfc8785
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from nats.aio.msg import Msg
from nats.js import JetStreamContext


async def consume(url: str, subject: str, durable: str, stream: str,
                  handle: Callable[[nats.NATS, JetStreamContext, Msg], Awaitable[None]]) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    sub = await js.pull_subscribe(subject, durable=durable, stream=stream)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))  # a bench helper: no state to save
    print("ready", flush=True)
    while True:
        try:
            msgs = await sub.fetch(64, timeout=1)
        except (TimeoutError, nats.errors.TimeoutError):
            continue
        for msg in msgs:
            await handle(nc, js, msg)
            await msg.ack()


async def risk(url: str) -> None:
    key = Ed25519PrivateKey.generate()
    public_hex = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()

    async def sign(_: nats.NATS, js: JetStreamContext, msg: Msg) -> None:
        order = json.loads(msg.data)
        signature = key.sign(rfc8785.dumps(order))
        reply = {**order, "signature": signature.hex(), "public_key": public_hex}
        await js.publish(f"risk.approved.{order['symbol']}", json.dumps(reply).encode())

    await consume(url, "orders.requested.*", "floor", "ORDERS", sign)


async def gateway(url: str) -> None:
    async def verify(nc: nats.NATS, _: JetStreamContext, msg: Msg) -> None:
        approval = json.loads(msg.data)
        signature = bytes.fromhex(approval.pop("signature"))
        public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(approval.pop("public_key")))
        public.verify(signature, rfc8785.dumps(approval))
        await nc.publish(f"floor.verified.{approval['symbol']}", msg.data[:64])

    await consume(url, "risk.approved.*", "floor-gateway", "RISK", verify)


if __name__ == "__main__":
    stage = {"risk": risk, "gateway": gateway}[sys.argv[1]]
    asyncio.run(stage(os.environ.get("NATS_URL") or sys.argv[2]))
