"""For tests and benchmarks of any package: sign like a sender does, send many at once, run the real process."""

from __future__ import annotations

import asyncio
import base64
import os
import secrets as random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from standardwebhooks import Webhook

BIN = Path(sys.executable).parent


def new_secret() -> str:
    """A fresh ``whsec_`` secret (32 random bytes), as `tradectl up` makes one."""
    return "whsec_" + base64.b64encode(random.token_bytes(32)).decode()


def signed_headers(body: bytes, secret: str, *, webhook_id: str | None = None,
                   timestamp: int | None = None) -> dict[str, str]:
    """Standard Webhooks headers for ``body``, signed with the official library (what a sender runs)."""
    webhook_id = webhook_id or f"msg_{uuid.uuid4().hex}"
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = Webhook(secret).sign(webhook_id, datetime.fromtimestamp(timestamp, UTC), body.decode())
    return {"content-type": "application/json", "webhook-id": webhook_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": signature}


def raw_post(url: str, body: bytes, headers: Mapping[str, str]) -> bytes:
    """One HTTP/1.1 POST of ``body`` to ``url``, as bytes on the wire (keep-alive)."""
    target = urlsplit(url)
    lines = [f"POST {target.path or '/'} HTTP/1.1", f"host: {target.netloc}", f"content-length: {len(body)}",
             *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass(frozen=True, slots=True)
class Exchange:
    status: int
    body: bytes
    seconds: float  # request written -> answer read


async def send_all(url: str, requests: Sequence[bytes], connections: int) -> list[Exchange]:
    """Send ``raw_post`` requests over ``connections`` keep-alive connections at once (request i on connection
    i % connections); the answers in request order. A plain asyncio client: an HTTP library would cost more CPU than
    the receiver under test (httpx takes ~5 ms a request here), so concurrency tests and the benchmark use this."""
    target = urlsplit(url)
    answers: list[Exchange | None] = [None] * len(requests)

    async def one_connection(first: int) -> None:
        reader, writer = await asyncio.open_connection(target.hostname, target.port)
        try:
            for index in range(first, len(requests), connections):
                started = time.perf_counter()
                writer.write(requests[index])
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:"))
                body = await reader.readexactly(length)
                answers[index] = Exchange(int(head.split(b" ", 2)[1]), body, time.perf_counter() - started)
        finally:
            writer.close()

    await asyncio.gather(*(one_connection(first) for first in range(min(connections, len(requests)))))
    return [answer for answer in answers if answer is not None]


async def remembered(database_url: str) -> int:
    """How many webhook-ids the service remembers (its ``deliveries`` table)."""
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetchval("SELECT count(*) FROM webhook_ingest.deliveries")
    finally:
        await conn.close()


class WebhookIngestProcess:
    """The ``webhook-ingest`` console script as a child process on ``port``, its output in ``log_path``."""

    def __init__(self, nats_url: str, database_url: str, port: int, log_path: Path, secrets: list[str],
                 extra_env: Mapping[str, str] | None = None) -> None:
        self.nats_url = nats_url
        self.url = f"http://127.0.0.1:{port}/webhooks/fills"
        self.base_url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self.env = {**os.environ, "NATS_URL": nats_url, "DATABASE_URL": database_url, "WEBHOOK_PORT": str(port),
                    "WEBHOOK_SECRETS": ",".join(secrets), "PYTHONUNBUFFERED": "1", **(extra_env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WebhookIngestProcess:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen([str(BIN / "webhook-ingest")], env=self.env, stdout=log,
                                         stderr=subprocess.STDOUT)
        return self

    def exited(self, _: str = "") -> str | None:
        if self.proc is None or self.proc.poll() is None:
            return None
        return f"exited with code {self.proc.returncode}"

    async def healthy(self, timeout: float = 20.0) -> None:
        from tradebus_runtime.health import NotHealthy, wait_until_healthy

        try:
            await wait_until_healthy(self.nats_url, ["webhook-ingest"], timeout, exited=self.exited)
        except NotHealthy as exc:
            raise AssertionError(f"{exc}\n{self.log_path.read_text()[-3000:]}") from None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
