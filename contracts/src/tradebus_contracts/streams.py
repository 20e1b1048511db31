"""JetStream stream definitions (DESIGN §4), as plain data so this package never imports a NATS client.

The runtime library maps a ``StreamDefinition`` onto its client's stream config; the string values
(``"file"``, ``"limits"``, ``"old"``) are JetStream's own, and durations are seconds as nats-py expects.

- Domain streams hold their subject family, on disk (money: nothing lives only in memory), with a 2 minute
  duplicate window: publishers set ``Nats-Msg-Id`` = ``event_id`` so a re-publish after a timeout is dropped.
  They keep 30 days: consumers are durable and the full history lives in AUDIT.
- ``CONTROL`` keeps everything (tiny volume): the risk service reads the last ``TradingStateChanged`` back on
  start, and a halt must not age out.
- ``BROKER`` holds facts that enter from the broker by a door other than the gateway's own calls (verified fill
  webhooks today: ``broker.trade_updates.<SYMBOL>``); the gateway turns them into the domain's events.
- ``AUDIT`` has no subjects of its own; it sources every domain stream into one ordered history that the audit
  recorder writes down and ``tradectl replay`` reads. No age limit, and deletes/purges are denied so history is
  only ever appended.
- ``AUDIT_CHECKPOINTS`` holds the audit recorder's signed checkpoints of that history's head (``audit.checkpoints``).
  Not sourced by AUDIT (it speaks about AUDIT); no age limit, deletes/purges denied: with the recorder's file of the
  same checkpoints it is the anchor outside the table that reveals a truncated tail or a deleted stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "StreamDefinition",
    "DUPLICATE_WINDOW_SECONDS",
    "ORDERS",
    "RISK",
    "FILLS",
    "POSITIONS",
    "CONTROL",
    "DLQ",
    "BROKER",
    "AUDIT",
    "AUDIT_CHECKPOINTS",
    "DOMAIN_STREAMS",
    "AUDIT_STREAM",
    "ALL_STREAMS",
]

DUPLICATE_WINDOW_SECONDS = 120.0
_DAY = 24 * 3600.0
_DOMAIN_MAX_AGE_SECONDS = 30 * _DAY


@dataclass(frozen=True, slots=True)
class StreamDefinition:
    name: str
    description: str
    subjects: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()  # names of streams this one copies from (AUDIT only)
    storage: Literal["file", "memory"] = "file"
    retention: Literal["limits", "interest", "workqueue"] = "limits"
    discard: Literal["old", "new"] = "old"
    max_age_seconds: float | None = _DOMAIN_MAX_AGE_SECONDS  # None: no age limit
    duplicate_window_seconds: float = DUPLICATE_WINDOW_SECONDS
    deny_delete: bool = False
    deny_purge: bool = False


ORDERS = StreamDefinition("ORDERS", "Order requests, submissions, failures, status changes, cancels", ("orders.>",))
RISK = StreamDefinition("RISK", "Risk decisions: signed approvals and rejections", ("risk.>",))
FILLS = StreamDefinition("FILLS", "Executions, from stream, poll and webhook (dedup by execution_id)", ("fills.>",))
POSITIONS = StreamDefinition(
    "POSITIONS", "Position snapshots, drift, reconciliation, corporate actions", ("positions.>",)
)
CONTROL = StreamDefinition("CONTROL", "Trading state (kill switch)", ("control.>",), max_age_seconds=None)
DLQ = StreamDefinition("DLQ", "Messages a service could not use, with the reason", ("dlq.>",))
BROKER = StreamDefinition("BROKER", "Facts from the broker: verified webhook trade updates", ("broker.>",))

DOMAIN_STREAMS: tuple[StreamDefinition, ...] = (ORDERS, RISK, FILLS, POSITIONS, CONTROL, DLQ, BROKER)

AUDIT = StreamDefinition(
    "AUDIT",
    "Every domain event in one ordered history, for replay and audit",
    sources=tuple(s.name for s in DOMAIN_STREAMS),
    max_age_seconds=None,
    deny_delete=True,
    deny_purge=True,
)
AUDIT_STREAM = AUDIT

AUDIT_CHECKPOINTS = StreamDefinition(
    "AUDIT_CHECKPOINTS",
    "The audit recorder's signed checkpoints of the audit trail's head",
    ("audit.checkpoints",),
    max_age_seconds=None,
    deny_delete=True,
    deny_purge=True,
)

ALL_STREAMS: tuple[StreamDefinition, ...] = (*DOMAIN_STREAMS, AUDIT, AUDIT_CHECKPOINTS)
