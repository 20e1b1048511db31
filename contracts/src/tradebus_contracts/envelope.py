"""The envelope every tradebus message carries, and the UTC timestamp type.

Every event is one flat JSON object: the envelope fields sit next to the event's own fields (DESIGN §4), so
``jq .event_type`` works on anything on the bus. The envelope is what lets an operator follow a story:
``correlation_id`` groups everything about one order (it *is* the order_id there), ``causation_id`` points at
the event that caused this one, and ``event_id`` doubles as the JetStream ``Nats-Msg-Id`` so a re-published
event is dropped by the server's de-duplication window.

Models are frozen (an event is a fact; nobody edits it after the fact) and forbid unknown fields (a typo or a
producer on a newer schema is an error you see, not a field silently dropped).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Self
from uuid import UUID, uuid4

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

__all__ = ["UtcDatetime", "utc_now", "Envelope", "OrderScoped", "NonEmptyStr", "MODEL_CONFIG"]


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A timezone-aware datetime, normalised to UTC. Naive datetimes are refused: a bare "10:00" in a trading
system is a bug waiting for the next daylight-saving change. On the wire: ISO-8601 ending in ``Z``."""

NonEmptyStr = Annotated[str, Field(min_length=1)]


def utc_now() -> datetime:
    return datetime.now(UTC)


MODEL_CONFIG = ConfigDict(frozen=True, extra="forbid")


class Envelope(BaseModel):
    """Base of every event. Subclasses pin ``event_type`` to ``Literal["<ClassName>"]`` with that default,
    which makes it both the discriminator for decoding and a check that a message is what it says it is."""

    model_config = MODEL_CONFIG

    event_id: UUID = Field(default_factory=uuid4, description="Unique per event; also the Nats-Msg-Id header.")
    event_type: str = Field(description="The event's class name.")
    schema_version: int = Field(default=1, ge=1, description="Bumped on an incompatible change of this event.")
    occurred_at: UtcDatetime = Field(default_factory=utc_now, description="When it happened, UTC.")
    producer: NonEmptyStr = Field(description="The service or tool that emitted it, e.g. 'risk-service'.")
    correlation_id: NonEmptyStr = Field(
        description="Groups a story: the order_id for anything about an order, else the operation's id."
    )
    causation_id: UUID | None = Field(default=None, description="event_id of the event that caused this one.")


class OrderScoped(BaseModel):
    """Mixin for events about one order: carries ``order_id`` and checks that ``correlation_id`` is that
    order id (DESIGN §4), so ``tradectl replay --order ID`` can trust the correlation.

    No defaulting of ``correlation_id`` from ``order_id``: that needs a "before" validator or a custom
    ``__init__``, and either makes pydantic run JSON input through Python-mode validation (slower, and it
    loses the strict JSON rules on the hot path). An "after" check keeps the fast path.
    """

    model_config = MODEL_CONFIG

    order_id: UUID = Field(description="Chosen by the requester; Alpaca's client_order_id is derived from it.")

    @model_validator(mode="after")
    def _correlation_is_order_id(self) -> Self:
        expected = str(self.order_id)
        if getattr(self, "correlation_id", expected) != expected:
            raise PydanticCustomError(
                "correlation_id",
                "correlation_id must be the order_id ({order_id}) for an event about an order, got {got}",
                {"order_id": expected, "got": repr(getattr(self, "correlation_id"))[:60]},
            )
        return self
