"""Signed checkpoints of the head, kept in two places outside the table.

Each checkpoint goes to the ``AUDIT_CHECKPOINTS`` stream (deletes and purges denied, kept forever) and is appended
to ``checkpoints.jsonl`` under the checkpoint directory (default ``$TRADEBUS_HOME/audit``), one event JSON per line,
fsynced. A checkpoint is only ever signed for rows already committed, so it never claims more than the table holds.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from tradebus_contracts import InvalidEvent, decode, encode_event
from tradebus_contracts.audit import sign_checkpoint
from tradebus_contracts.events import AuditCheckpoint
from tradebus_contracts.streams import AUDIT_CHECKPOINTS
from tradebus_contracts.subjects import AUDIT_CHECKPOINTS as CHECKPOINT_SUBJECT
from tradebus_runtime import Bus, get_logger

from .cadence import Anchor
from .rows import Head

CHECKPOINT_FILE = "checkpoints.jsonl"
log = get_logger(__name__)


def checkpoint_file(directory: Path) -> Path:
    return directory / CHECKPOINT_FILE


class Checkpoints:
    def __init__(self, bus: Bus, key: Ed25519PrivateKey, directory: Path) -> None:
        self._bus = bus
        self._key = key
        self._path = checkpoint_file(directory)
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)

    async def sign(self, head: Head) -> Anchor:
        checkpoint = sign_checkpoint(head.seq, head.hash, private_key=self._key, signed_at=datetime.now(UTC),
                                     producer=self._bus.service)
        await asyncio.to_thread(self._append, encode_event(checkpoint))
        await self._bus.publish(checkpoint)
        log.info("audit.checkpoint_signed", seq=head.seq, head_hash=checkpoint.head_hash, key_id=checkpoint.key_id)
        return Anchor(checkpoint.seq, checkpoint.signed_at)

    def _append(self, line: bytes) -> None:
        fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)


async def last_anchor(js: JetStreamContext, default: Anchor) -> Anchor:
    """The newest checkpoint on the stream (where the cadence goes on from), else ``default``."""
    try:
        message = await js.get_last_msg(AUDIT_CHECKPOINTS.name, CHECKPOINT_SUBJECT)
    except NotFoundError:
        return default
    try:
        checkpoint = decode(message.data or b"", AuditCheckpoint)
    except InvalidEvent:
        log.warning("audit.checkpoint_unreadable", seq=message.seq)
        return default
    return Anchor(checkpoint.seq, checkpoint.signed_at)
