"""The gateway half of the latency floor: verify the floor risk stage's Ed25519 signature, publish a marker.

Plain nats-py, no validation, no database, no broker call. With `floor_risk.py` it makes the 3-hop floor
(request -> risk signs -> gateway verifies) that `bench/pipeline.py` measures side by side with the real stack.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys

import nats
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


async def main(url: str) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    sub = await js.pull_subscribe("risk.approved.*", durable="floor-gateway", stream="RISK")
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    print("ready", flush=True)
    while True:
        try:
            msgs = await sub.fetch(64, timeout=1)
        except (TimeoutError, nats.errors.TimeoutError):
            continue
        for msg in msgs:
            approval = json.loads(msg.data)
            signature = bytes.fromhex(approval.pop("signature"))
            public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(approval.pop("public_key")))
            public.verify(signature, rfc8785.dumps(approval))
            await nc.publish(f"floor.verified.{approval['symbol']}", msg.data[:64])
            await msg.ack()


if __name__ == "__main__":
    asyncio.run(main(os.environ.get("NATS_URL") or sys.argv[1]))
