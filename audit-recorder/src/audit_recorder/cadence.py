"""Pure core: when to sign a checkpoint of the head.

Every ``every_events`` recorded events or every ``every_s`` seconds, whichever comes first, but only when the head
moved since the last checkpoint (an idle trail signs nothing: the checkpoint stream is kept forever).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class Anchor:
    """The last signed checkpoint: its sequence and when it was signed."""

    seq: int
    signed_at: datetime


@dataclass(frozen=True, slots=True)
class Cadence:
    """When the next checkpoint is due: ``every_events`` events or ``every_s`` seconds after the last one."""

    every_events: int = 1000
    every_s: float = 10.0

    def due(self, last: Anchor, head_seq: int, now: datetime) -> bool:
        if head_seq <= last.seq:
            return False
        return head_seq - last.seq >= self.every_events or now - last.signed_at >= timedelta(seconds=self.every_s)
