"""The latency floor: the least a risk stage can do, in plain nats-py, run as its own process.

Pull-consume OrderRequested JSON from ORDERS, sign the canonical bytes with Ed25519, publish to risk.approved.*,
ack. No validation, no database, no checks, no logging. `bench/risk_stage.py` runs it side by side with the real
risk-service so the ratio between the two is measured in one run on one machine.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys

import nats
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


async def main(url: str) -> None:
    key = Ed25519PrivateKey.generate()
    from cryptography.hazmat.primitives import serialization

    public_hex = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()
    nc = await nats.connect(url)
    js = nc.jetstream()
    sub = await js.pull_subscribe("orders.requested.*", durable="floor", stream="ORDERS")
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))  # a bench helper: no state to save
    print("ready", flush=True)
    while True:
        try:
            msgs = await sub.fetch(64, timeout=1)
        except (TimeoutError, nats.errors.TimeoutError):
            continue
        for msg in msgs:
            order = json.loads(msg.data)
            signature = key.sign(rfc8785.dumps(order))
            reply = {**order, "signature": signature.hex(), "public_key": public_hex}
            await js.publish(f"risk.approved.{order['symbol']}", json.dumps(reply).encode())
            await msg.ack()


if __name__ == "__main__":
    asyncio.run(main(os.environ.get("NATS_URL") or sys.argv[1]))
