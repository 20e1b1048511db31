"""The digests of a range of a stream's messages, read over a bare NATS connection: ``audit verify``'s fast path.

Why not nats-py here: nats-py spends ~9 µs of CPU per delivered message even on its fastest path (an ordered push
consumer with a callback: header parsing, a ``Msg`` object, a queue and a task hop per message), so a million
messages cost ~10 s of the 15 s that ``audit verify`` may take. This reader speaks only the few protocol lines a
pull consumer needs — CONNECT, SUB, PUB of a pull request, PING/PONG — and cuts each delivery (``HMSG``) out of the
socket buffer without building anything: ~3 µs per message, hashing included (docs/BENCHMARKS.md).

Scope, on purpose small: the consumer itself is created and deleted through nats-py (every JetStream API call stays
with the library); plain ``nats://`` URLs, with or without ``user:password@`` or ``token@``, or the operator's nkey (the server's nonce
signed with its seed). A server that asks for TLS, or for an nkey when none is known, raises `Unsupported`, and the caller reads through nats-py instead
(`stream_digests.read_digests`). Sequences must be contiguous (AUDIT denies deletes): a jump means a delivery was
lost and raises `Interrupted`, never a wrong verdict.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nkeys
from nats.js import api

from tradebus_contracts.permissions import inbox_prefix
from tradebus_contracts.services import OPERATOR

from . import access
from .audit_check import ABSENT

PULL_BATCH = 5000
READ_SIZE = 1 << 20
WAIT_S = 10.0


class Unsupported(RuntimeError):
    """This server needs something the bare reader does not speak (TLS, nkeys, JWT): use nats-py."""


class Interrupted(RuntimeError):
    """A delivery went missing (a reconnect, a consumer that vanished): read again."""


def connect_line(url: str, info: dict[str, object], seed_file: Path | None = None) -> bytes:
    if info.get("tls_required"):
        raise Unsupported("the server requires TLS")
    parts = urlsplit(url)
    options: dict[str, object] = {"verbose": False, "pedantic": False, "headers": True, "no_responders": True,
                                  "protocol": 1, "name": "tradectl-audit-verify"}
    if info.get("nonce"):
        if seed_file is None:
            raise Unsupported("the server asks for nkey/JWT authentication and no nkey seed is known")
        keys = nkeys.from_seed(bytearray(seed_file.read_bytes().strip()))
        signature = keys.sign(str(info["nonce"]).encode())
        options |= {"nkey": keys.public_key.decode(), "sig": base64.urlsafe_b64encode(signature).decode().rstrip("=")}
    elif parts.username and parts.password is not None:
        options |= {"user": unquote(parts.username), "pass": unquote(parts.password)}
    elif parts.username:
        options["auth_token"] = unquote(parts.username)
    return b"CONNECT " + json.dumps(options).encode() + b"\r\n"


def stream_seq(reply: bytes) -> int:
    tokens = reply.split(b".")
    return int(tokens[5] if len(tokens) == 9 else tokens[7])  # JetStream's two ack-subject layouts


async def bulk_digests(url: str, stream: str, lo: int, hi: int) -> bytes:
    """SHA-256 of each message ``lo..hi`` of ``stream``, 32 bytes per sequence (``ABSENT`` past its end)."""
    nc = await access.nats_connect(url, connect_timeout=5, max_reconnect_attempts=1)
    try:
        js = nc.jetstream()
        info = await js.add_consumer(stream, api.ConsumerConfig(
            ack_policy=api.AckPolicy.NONE, deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=lo,
            inactive_threshold=30.0, mem_storage=True, num_replicas=1, description="tradectl audit verify"))
        try:
            return await _read(url, f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{info.name}", lo, hi)
        finally:
            try:
                await js.delete_consumer(stream, info.name)
            except Exception:  # it goes away by itself after inactive_threshold
                pass
    finally:
        await nc.close()


async def _read(url: str, next_subject: str, lo: int, hi: int) -> bytes:
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname or "127.0.0.1", parts.port or 4222,
                                                   limit=READ_SIZE * 4)
    try:
        first = await asyncio.wait_for(reader.readline(), WAIT_S)
        if not first.startswith(b"INFO "):
            raise Unsupported(f"not a NATS server greeting: {first[:40]!r}")
        identity = access.current()
        writer.write(connect_line(url, json.loads(first[5:]), identity.seed_file) + b"PING\r\n")
        reply = await asyncio.wait_for(reader.readline(), WAIT_S)
        if not reply.startswith(b"PONG"):
            raise Unsupported(f"the server refused the connection: {reply.strip()[:200]!r}")
        # the operator's own inbox prefix: the only one its NATS permissions let it read
        prefix = inbox_prefix(OPERATOR) if identity.seed_file is not None else "_TRADECTL_AUDIT"
        inbox = f"{prefix}.{next_subject.rsplit('.', 1)[-1]}".encode()
        writer.write(b"SUB " + inbox + b" 1\r\n")
        return await _deliveries(reader, writer, next_subject.encode(), inbox, lo, hi)
    finally:
        writer.close()


def _pull(next_subject: bytes, inbox: bytes, batch: int) -> bytes:
    body = json.dumps({"batch": batch, "expires": int(WAIT_S * 3 * 1e9)}).encode()
    return b"PUB " + next_subject + b" " + inbox + b" " + str(len(body)).encode() + b"\r\n" + body + b"\r\n"


async def _deliveries(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, next_subject: bytes, inbox: bytes,
                      lo: int, hi: int) -> bytes:
    out = bytearray(ABSENT * (hi - lo + 1))
    sha256 = hashlib.sha256
    expected = lo
    requested = 0
    for _ in range(2):  # two pulls in flight: the server never waits for the next request
        batch = min(PULL_BATCH, hi - lo + 1 - requested)
        if batch > 0:
            writer.write(_pull(next_subject, inbox, batch))
            requested += batch
    buffer = b""
    while expected <= hi:
        try:
            chunk = await asyncio.wait_for(reader.read(READ_SIZE), WAIT_S)
        except TimeoutError:
            raise Interrupted(f"no delivery for {WAIT_S:g} s at sequence {expected}") from None
        if not chunk:
            raise Interrupted("the server closed the connection")
        buffer = buffer + chunk if buffer else chunk
        pos = 0
        while expected <= hi:
            eol = buffer.find(b"\r\n", pos)
            if eol < 0:
                break
            line = buffer[pos:eol]
            if line.startswith((b"HMSG ", b"MSG ")):
                fields = line.split(b" ")
                headers = int(fields[-2]) if fields[0] == b"HMSG" else 0
                size, start = int(fields[-1]), eol + 2
                if len(buffer) < start + size + 2:
                    break
                pos = start + size + 2
                if len(fields) == (6 if headers else 5):  # with a reply subject: a message, not a status
                    seq = stream_seq(fields[3])
                    if seq != expected:
                        raise Interrupted(f"expected sequence {expected}, got {seq}")
                    out[(seq - lo) * 32:(seq - lo + 1) * 32] = sha256(buffer[start + headers:start + size]).digest()
                    expected += 1
                    if (seq - lo + 1) % PULL_BATCH == 0 and requested < hi - lo + 1:
                        batch = min(PULL_BATCH, hi - lo + 1 - requested)
                        writer.write(_pull(next_subject, inbox, batch))
                        requested += batch
                else:  # a status (a pull request expired, the consumer went away): the range is not complete
                    status = buffer[start:start + headers].split(b"\r\n", 1)[0].decode(errors="replace")
                    raise Interrupted(f"the server answered {status!r} before the range was read")
            elif line.startswith(b"PING"):
                writer.write(b"PONG\r\n")
                pos = eol + 2
            elif line.startswith(b"-ERR"):
                raise Interrupted(f"the server said {line.decode(errors='replace')}")
            else:
                pos = eol + 2
        buffer = buffer[pos:]
        await writer.drain()
    return bytes(out)
