"""The names of tradebus's services: each is a process, a NATS identity, a PostgreSQL schema and a log name.

One list, so subjects (``health.<service>``, ``rpc.<service>.<what>``, ``dlq.<service>``), the local runner, the
channel table (``topology``) and each service's own shell agree on how a service is called.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Service", "OPERATOR"]


class Service(StrEnum):
    RISK = "risk-service"
    GATEWAY = "order-gateway"
    POSITION_SYNC = "position-sync-service"
    WEBHOOK_INGEST = "webhook-ingest"
    TICKET_API = "ticket-api"
    AUDIT_RECORDER = "audit-recorder"


OPERATOR = "tradectl"
"""The operator's command line: not a service, but a producer (the kill switch) and a reader (tail)."""
