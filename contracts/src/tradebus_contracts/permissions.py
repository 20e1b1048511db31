"""What each NATS identity may publish and subscribe, derived from the topology (DESIGN §5.1, the second wall).

The signature on approvals is the first wall; this is the second: a process that is not the risk service cannot
even publish to ``risk.approved.>``, one that is not the gateway cannot publish a fill, and only the operator's
identity publishes ``control.>``. Every grant below comes from a table that already exists for another reason —
`topology.CHANNELS` (producers publish their channel, consumers may subscribe to it), `topology.ENDPOINTS`
(requesters publish the request, responders subscribe to it), `consumers.DURABLES` (a service binds to its own
durable consumers: INFO, NEXT, ACK) — plus the few direct reads below (`READS`). Nothing is granted by name here
that those tables do not say.

What no service identity is granted: creating, updating, deleting or purging a stream; creating, updating or
deleting a durable consumer; publishing anything it does not produce. Provisioning (streams, durable consumers, KV
buckets) is done by the ``admin`` identity, which only ``tradectl`` holds; replaying a dead letter (which
republishes another producer's event) is an admin act too.

Two kinds of read use a short-lived consumer the reader creates itself, because JetStream has no other way: a KV
watch (``REFDATA``) and a read from a sequence on (the audit recorder reading AUDIT from its table's head). Those
are granted on the streams listed in `READS` only, none of which has a durable consumer, so no consumer a reader
creates, binds or deletes there can be another service's. On a stream with durable consumers (the work streams)
only the operator may create a consumer, and only through the legacy ephemeral-create subject
``$JS.API.CONSUMER.CREATE.<stream>``, which the server refuses for a request carrying a durable name.

Each identity's replies arrive on its own inbox prefix (``_INBOX_<identity>``), which no other identity may
subscribe to, so nobody reads another's request replies or pull-consumer deliveries.
"""

from __future__ import annotations

from dataclasses import dataclass

from tradebus_contracts.consumers import DURABLES
from tradebus_contracts.refdata import REFDATA_BUCKET
from tradebus_contracts.services import OPERATOR, Service
from tradebus_contracts.streams import ALL_STREAMS, AUDIT, AUDIT_CHECKPOINTS, CONTROL
from tradebus_contracts.subjects import DLQ, HEALTH, dlq_subject, health_subject
from tradebus_contracts.topology import ALL_SERVICES, CHANNELS, ENDPOINTS

__all__ = ["ADMIN", "IDENTITIES", "Permissions", "READS", "KV_WRITERS", "inbox_prefix", "permissions_for"]

ADMIN = "admin"
"""Provisioning and break-glass (``tradectl up``, ``tradectl dlq replay``): no restrictions, never given to a
service."""
IDENTITIES: tuple[str, ...] = (*ALL_SERVICES, OPERATOR, ADMIN)

KV_REFDATA = f"KV_{REFDATA_BUCKET}"

READS: dict[str, tuple[str, ...]] = {
    # the broker's reference data: quotes, assets, account, clock (a KV bucket written by the gateway)
    KV_REFDATA: (Service.RISK, Service.GATEWAY, Service.POSITION_SYNC, Service.TICKET_API, OPERATOR),
    # the trading state's last value at start (the kill switch), before following it live
    CONTROL.name: (Service.RISK, Service.GATEWAY, Service.TICKET_API, OPERATOR),
    # the recorder reads AUDIT from its table's head on, and finds its last signed checkpoint
    AUDIT.name: (Service.AUDIT_RECORDER, OPERATOR),
    AUDIT_CHECKPOINTS.name: (Service.AUDIT_RECORDER, OPERATOR),
}
"""Streams read directly (last message, a KV watch, an ephemeral consumer), beyond the durables, by whom."""

KV_WRITERS: dict[str, tuple[str, ...]] = {REFDATA_BUCKET: (Service.GATEWAY,)}

NEVER = ("$JS.API.STREAM.CREATE.>", "$JS.API.STREAM.UPDATE.>", "$JS.API.STREAM.DELETE.>", "$JS.API.STREAM.PURGE.>",
         "$JS.API.STREAM.MSG.DELETE.>", "$JS.API.CONSUMER.DURABLE.CREATE.>")
"""What no identity but the admin may do, whatever else it is allowed."""


@dataclass(frozen=True)
class Permissions:
    """One identity's allow-lists (anything else is refused by the server); ``None`` = unrestricted (admin)."""

    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    allow_responses: bool = True  # may answer the requests it received (health, rpc), on their reply subject only
    publish_deny: tuple[str, ...] = NEVER  # refused even where an allow would match (belt and braces)


def inbox_prefix(identity: str) -> str:
    """Where an identity's replies arrive (``nats.connect(inbox_prefix=...)``); only it may subscribe there."""
    return f"_INBOX_{identity}"


def permissions_for(identity: str) -> Permissions | None:
    """The identity's permissions; ``None`` for the admin, which is unrestricted."""
    if identity == ADMIN:
        return None
    if identity not in IDENTITIES:
        raise ValueError(f"unknown NATS identity {identity!r}; known: {', '.join(IDENTITIES)}")
    publish: list[str] = []
    subscribe: list[str] = [f"{inbox_prefix(identity)}.>"]
    for channel in CHANNELS:
        if identity in channel.producers:
            publish.append(dlq_subject(identity) if channel.kind == DLQ else channel.subject_filter)
        if identity in channel.consumers:
            subscribe.append(f"{DLQ}.>" if channel.kind == DLQ else channel.subject_filter)
    for endpoint in ENDPOINTS:
        subject = endpoint.subject
        if subject.startswith(f"{HEALTH}."):
            if identity in endpoint.responders:  # answers its own; may ask for it too (a container's healthcheck)
                subscribe.append(health_subject(identity))
                publish.append(health_subject(identity))
            if identity in endpoint.requesters:
                publish.append(f"{HEALTH}.*")
            continue
        if identity in endpoint.responders:
            subscribe.append(subject)
        if identity in endpoint.requesters:
            publish.append(subject)
    for durable in DURABLES:
        if durable.service == identity:
            publish += [f"$JS.API.CONSUMER.INFO.{durable.stream}.{durable.name}",
                        f"$JS.API.CONSUMER.MSG.NEXT.{durable.stream}.{durable.name}",
                        f"$JS.ACK.{durable.stream}.{durable.name}.>"]
    for bucket, writers in KV_WRITERS.items():
        if identity in writers:
            publish.append(f"$KV.{bucket}.>")
    if identity == OPERATOR:
        # tail: every channel, by the subjects of the streams that keep them (``orders.>``), and the checkpoints
        subscribe += [subject for s in ALL_STREAMS for subject in s.subjects]
        publish += _operator_reads()
    else:
        for stream, readers in READS.items():
            if identity in readers:
                publish += _direct_reads(stream)
    publish += ["$JS.API.INFO", "$JS.API.STREAM.INFO.*"]  # what a stream holds and how it is set: read only
    return Permissions(_unique(publish), _unique(subscribe))


def _direct_reads(stream: str) -> list[str]:
    """Read a stream: a message by sequence or subject, and short-lived consumers of one's own (an ordered push
    consumer; on a stream without durable consumers also pulled and deleted, since no consumer name on it can be
    another service's)."""
    reads = [f"$JS.API.DIRECT.GET.{stream}.>", f"$JS.API.DIRECT.GET.{stream}", f"$JS.API.STREAM.MSG.GET.{stream}",
             f"$JS.API.CONSUMER.CREATE.{stream}",  # ephemeral only: the server refuses a durable name here
             f"$JS.FC.{stream}.>"]
    if stream not in {d.stream for d in DURABLES}:  # no consumer name here can be another service's
        reads += [f"$JS.API.CONSUMER.CREATE.{stream}.>", f"$JS.API.CONSUMER.INFO.{stream}.*",
                  f"$JS.API.CONSUMER.MSG.NEXT.{stream}.*", f"$JS.API.CONSUMER.DELETE.{stream}.*"]
    return reads


def _operator_reads() -> list[str]:
    """The operator reads everything (status, tail, replay, verify), never from a service's durable consumer."""
    reads = ["$JS.API.STREAM.NAMES", "$JS.API.STREAM.LIST", "$JS.API.CONSUMER.INFO.*.*", "$JS.API.CONSUMER.LIST.*",
             "$JS.API.CONSUMER.NAMES.*"]
    for stream in (*(s.name for s in ALL_STREAMS), KV_REFDATA):
        reads += _direct_reads(stream)
    return reads


def _unique(subjects: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(subjects))
