"""One fetched batch of order requests, decided as plain data: the pure core of the request consumer.

Insert-first: a new order_id is the common case, so the first request of each order_id in the batch is decided
without asking the store first, and the shell inserts all of them at once. ``plan_batch`` books each approval as
it is made, so the next order in the batch sees it. The insert answers which order_ids were new; the others were
decided earlier: ``BatchPlan.lost`` names them, the shell looks up their stored decisions, and ``take_back`` undoes
their provisional effect on the book. ``BatchPlan.outcomes`` then says, per message: publish this decision (the
new one, or the stored one byte for byte), or dead-letter the message (not an order request; an order_id reused
for different fields, where any answer would contradict the decision already given), or retry it later.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from tradebus_contracts import OrderRequested, RiskApproved, RiskRejected
from tradebus_contracts.envelope import Envelope

from .book import Book
from .booking import Commitment
from .model import DecisionEvent

__all__ = ["Decide", "NewDecision", "StoredDecision", "Ask", "Publish", "Poison", "Retry", "Outcome", "BatchPlan",
           "plan_batch", "take_back"]

Decide = Callable[[OrderRequested, datetime], tuple[DecisionEvent, Commitment | None]]
"""``Decider.decide``: the decision event for a request and what it commits (None when rejected)."""


@dataclass(frozen=True, slots=True)
class NewDecision:
    """A decision made in this batch, to insert. It stands only if the insert says its order_id was new."""

    request_event_id: UUID
    order_fields: dict[str, object]  # as JSON values: what the request asked
    event: DecisionEvent
    commitment: Commitment | None

    @property
    def order_id(self) -> UUID:
        return self.event.order_id

    @property
    def estimated_cost(self) -> Decimal | None:
        return None if self.commitment is None else self.commitment.cost

    @property
    def shares(self) -> Decimal | None:
        return None if self.commitment is None else self.commitment.shares


@dataclass(frozen=True, slots=True)
class StoredDecision:
    """A decision made earlier: what was asked (to tell a re-publish from a reused order_id) and the exact event."""

    order_id: UUID
    order_fields: dict[str, object]
    event: DecisionEvent


@dataclass(frozen=True, slots=True)
class Ask:
    """A message that asks for a decision on an order."""

    order_id: UUID
    request_event_id: UUID
    order_fields: dict[str, object]


@dataclass(frozen=True, slots=True)
class Publish:
    """Answer the message with this decision; ``repeated`` when it was made for an earlier request."""

    event: DecisionEvent
    repeated: bool


@dataclass(frozen=True, slots=True)
class Poison:
    """Dead-letter the message: no answer can ever be right. ``reused_order_id`` when it asks for an order_id that
    was decided for other order fields."""

    reason: str
    reused_order_id: UUID | None = None


@dataclass(frozen=True, slots=True)
class Retry:
    """Its decision was neither inserted nor found: leave the message for a later delivery."""

    reason: str


Outcome = Publish | Poison | Retry


@dataclass(frozen=True, slots=True)
class BatchPlan:
    asks: tuple[Ask | Poison, ...]  # one per message, in order
    new: tuple[NewDecision, ...]  # one per order_id, decided for its first request in the batch

    def refuses_for(self, codes: Set[str]) -> bool:
        """Whether a decision of the batch is a rejection for one of ``codes`` (among others)."""
        return any(isinstance(d.event, RiskRejected) and any(r.code in codes for r in d.event.reasons)
                   for d in self.new)

    def lost(self, inserted: Set[UUID]) -> list[NewDecision]:
        """The decisions the insert did not store: their order_ids were decided before."""
        return [d for d in self.new if d.order_id not in inserted]

    def outcomes(self, inserted: Set[UUID], stored: Mapping[UUID, StoredDecision]) -> list[Outcome]:
        """What to do with each message, given the order_ids inserted and the stored decisions of the others."""
        decided = {d.order_id: StoredDecision(d.order_id, d.order_fields, d.event)
                   for d in self.new if d.order_id in inserted}
        decided.update(stored)
        return [ask if isinstance(ask, Poison) else _answer(ask, decided.get(ask.order_id)) for ask in self.asks]


def plan_batch(requests: Sequence[Envelope], decide: Decide, book: Book, now: datetime) -> BatchPlan:
    """Decide the first request of each order_id in turn, booking each approval before the next decision."""
    book.advance(now)
    asks: list[Ask | Poison] = []
    new: dict[UUID, NewDecision] = {}
    for request in requests:
        if not isinstance(request, OrderRequested):
            asks.append(Poison(f"{request.event_type} on an order-request subject"))
            continue
        ask = Ask(request.order_id, request.event_id, request.order_fields().model_dump(mode="json"))
        asks.append(ask)
        if ask.order_id in new:
            continue
        event, commitment = decide(request, now)
        new[ask.order_id] = NewDecision(request.event_id, ask.order_fields, event, commitment)
        if isinstance(event, RiskApproved) and commitment is not None:
            book.record_approval(event.order_id, event.symbol, event.side, commitment, event.expires_at, now)
    return BatchPlan(tuple(asks), tuple(new.values()))


def take_back(book: Book, lost: Iterable[NewDecision]) -> None:
    """Undo what the lost approvals booked: their order_ids keep the decision stored earlier."""
    for decision in lost:
        if isinstance(decision.event, RiskApproved):
            book.undo_approval(decision.order_id)


def _answer(ask: Ask, decision: StoredDecision | None) -> Outcome:
    if decision is None:
        return Retry(f"decision for {ask.order_id} neither inserted nor found")
    if decision.order_fields != ask.order_fields:
        return Poison(f"order_id {ask.order_id} was already decided for different order fields; "
                      "a new order needs a new order_id", reused_order_id=ask.order_id)
    return Publish(decision.event, repeated=decision.event.causation_id != ask.request_event_id)
