"""Every durable consumer on the bus, as data: which service reads what, from which stream, under which name.

Durable consumers are part of the deployment, not of a process: provisioning (``tradectl up``, or the compose
``provision`` job) creates each one from this table with the admin identity, and a service only binds to its own
(it is allowed ``CONSUMER.INFO``, ``MSG.NEXT`` and ``ACK`` on them and nothing else; see ``permissions``). What is
here is the server's side of a consumer; how a service works through its messages (batch size, retries, how many
at once) stays in the service (``tradebus_runtime.bus.ConsumerSpec.of``).
"""

from __future__ import annotations

from dataclasses import dataclass

from tradebus_contracts.services import Service
from tradebus_contracts.subjects import ACTIVITIES, subject_filter

__all__ = [
    "Durable",
    "DURABLES",
    "ORDER_OUTCOMES",
    "RISK_REQUESTS",
    "RISK_ORDER_OUTCOMES",
    "RISK_FILLS",
    "GATEWAY_APPROVALS",
    "GATEWAY_CANCELS",
    "GATEWAY_TRADE_UPDATES",
    "LEDGER_FILLS",
    "LEDGER_ACTIVITIES",
    "TICKET_ORDERS",
    "TICKET_RISK",
    "TICKET_FILLS",
]

DEFAULT_ACK_WAIT_S = 5.0
DEFAULT_MAX_ACK_PENDING = 1000

ORDER_OUTCOMES = ("orders.submitted", "orders.status", "orders.failed", "orders.cancel_result")
"""What the gateway says about an order after it left risk: the events that close an open approval."""


@dataclass(frozen=True, slots=True)
class Durable:
    """One durable pull consumer (explicit ack, from the stream's start), owned by one service.

    ``ack_wait_s``: how long after a process stops answering for a message the server hands it out again.
    """

    service: str
    stream: str
    name: str
    filter_subjects: tuple[str, ...]
    description: str
    ack_wait_s: float = DEFAULT_ACK_WAIT_S
    max_ack_pending: int = DEFAULT_MAX_ACK_PENDING


def _filters(*kinds: str) -> tuple[str, ...]:
    return tuple(subject_filter(k) for k in kinds)


RISK_REQUESTS = Durable(Service.RISK, "ORDERS", Service.RISK, _filters("orders.requested"),
                        "order requests to decide")
RISK_ORDER_OUTCOMES = Durable(Service.RISK, "ORDERS", f"{Service.RISK}-orders", _filters(*ORDER_OUTCOMES),
                              "order outcomes that close open approvals")
RISK_FILLS = Durable(Service.RISK, "FILLS", f"{Service.RISK}-fills", _filters("fills"),
                     "fills: what approved orders have done, until the position has it")
GATEWAY_APPROVALS = Durable(Service.GATEWAY, "RISK", Service.GATEWAY, _filters("risk.approved"),
                            "signed approvals to submit")
GATEWAY_CANCELS = Durable(Service.GATEWAY, "ORDERS", f"{Service.GATEWAY}-cancel", _filters("orders.cancel"),
                          "cancel requests")
GATEWAY_TRADE_UPDATES = Durable(Service.GATEWAY, "BROKER", f"{Service.GATEWAY}-trade-updates",
                                _filters("broker.trade_updates"),
                                "trade updates received by webhook (webhook-ingest)")
LEDGER_FILLS = Durable(Service.POSITION_SYNC, "FILLS", Service.POSITION_SYNC, _filters("fills"),
                       "fills for the ledger")
LEDGER_ACTIVITIES = Durable(Service.POSITION_SYNC, "BROKER", f"{Service.POSITION_SYNC}-activities",
                            _filters(ACTIVITIES), "broker activities: corporate actions and dividends")
TICKET_ORDERS = Durable(Service.TICKET_API, "ORDERS", Service.TICKET_API,
                        _filters("orders.requested", "orders.submitted", "orders.failed", "orders.status",
                                 "orders.cancel", "orders.cancel_result"),
                        "the ticket's read model: order events")
TICKET_RISK = Durable(Service.TICKET_API, "RISK", f"{Service.TICKET_API}-risk",
                      _filters("risk.approved", "risk.rejected"), "the ticket's read model: risk decisions")
TICKET_FILLS = Durable(Service.TICKET_API, "FILLS", f"{Service.TICKET_API}-fills", _filters("fills"),
                       "the ticket's read model: fills")

DURABLES: tuple[Durable, ...] = (
    RISK_REQUESTS, RISK_ORDER_OUTCOMES, RISK_FILLS,
    GATEWAY_APPROVALS, GATEWAY_CANCELS, GATEWAY_TRADE_UPDATES,
    LEDGER_FILLS, LEDGER_ACTIVITIES,
    TICKET_ORDERS, TICKET_RISK, TICKET_FILLS,
)
"""Every durable consumer of the deployment. webhook-ingest consumes nothing; audit-recorder reads AUDIT through
an ephemeral consumer from the head of its own table (it keeps the position itself, not the server)."""
