"""A read of the broker's positions through the gateway (``rpc.order-gateway.positions``), as ``reconcile`` values.

* No answer in time, no responder, ``{"error": ...}`` or a reply that is not a ``BrokerPositionsReply``:
  ``ReadFailed`` — never flat.
* A reply that lists positions: the broker's complete list (the contract: every open position, an error
  otherwise), so a symbol we hold that it does not list is affirmed flat.
* A reply with no position at all while the ledger holds some: not trusted as "all flat" (the Lumibot bug: an empty
  list after a failed call read as "verified flat"). Nothing is affirmed, so every symbol we hold is ``Unknown`` and
  nothing is decided until a read lists something. A per-symbol read in the gateway's contract would let us
  confirm a real "everything sold elsewhere"; it is not there yet.

A read's id is its ``as_of`` (the gateway's time when it asked the broker) in ISO form: ``reconcile`` keeps read ids
in its drift values, and the drift event's ``first_seen_at`` is read back from it.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from nats.aio.client import Client as NatsClient
from pydantic import ValidationError

from tradebus_contracts.rpc import BrokerPositionsReply
from tradebus_contracts.subjects import GATEWAY_POSITIONS

from .reconcile import BrokerRead, Figures, ReadFailed


def parse_read(data: bytes, held: Collection[str], now: datetime) -> BrokerRead | ReadFailed:
    """The gateway's answer → a read. ``held``: the symbols the ledger holds or watches."""
    try:
        reply = BrokerPositionsReply.model_validate_json(data)
    except ValidationError:
        reason = data[:300].decode(errors="replace")
        return ReadFailed(read_id(now), now, f"the gateway answered {reason}")
    positions = {p.symbol: Figures(p.qty, p.avg_entry_price, p.cost_basis) for p in reply.positions if p.qty}
    affirmed = frozenset(held) - positions.keys() if reply.positions else frozenset()
    return BrokerRead(read_id(reply.as_of), reply.as_of, positions, affirmed)


async def read_positions(nc: NatsClient, held: Collection[str], now: datetime,
                         timeout: float) -> BrokerRead | ReadFailed:
    try:
        reply = await nc.request(GATEWAY_POSITIONS, b"{}", timeout=timeout)
    except Exception as exc:  # a timeout, no responder, a lost connection: the read did not happen
        return ReadFailed(read_id(now), now, f"{type(exc).__name__}: {exc}".rstrip(": "))
    return parse_read(reply.data, held, now)


def read_id(as_of: datetime) -> str:
    return as_of.isoformat()


def read_time(read_id: str) -> datetime | None:
    try:
        return datetime.fromisoformat(read_id)
    except ValueError:
        return None
