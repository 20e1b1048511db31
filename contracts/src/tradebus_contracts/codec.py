"""Bytes <-> events. This is on every service's hot path, so it is one pydantic ``TypeAdapter`` over a union
discriminated by ``event_type``: the JSON is parsed once, in Rust, straight into the right model (no
``json.loads`` first, no trying each model in turn).

Decoding is *strict*: a JSON string is not silently turned into an int, a number into a datetime, and so on.
Every failure, from broken JSON to a bad field, is one exception type, ``InvalidEvent``, whose message says
what is wrong and where; services put such messages on ``dlq.<service>`` with that message as the reason.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar, Union

from pydantic import Field, TypeAdapter, ValidationError

from tradebus_contracts.envelope import Envelope
from tradebus_contracts.events import ALL_EVENT_CLASSES

__all__ = ["EVENT_TYPES", "AnyEvent", "InvalidEvent", "decode_event", "decode", "encode_event"]

EVENT_TYPES: dict[str, type[Envelope]] = {cls.__name__: cls for cls in ALL_EVENT_CLASSES}
"""event_type -> model class, for every event on the bus."""

AnyEvent = Annotated[Union[tuple(ALL_EVENT_CLASSES)], Field(discriminator="event_type")]  # noqa: UP007
_ANY_EVENT: TypeAdapter[Any] = TypeAdapter(AnyEvent)

E = TypeVar("E", bound=Envelope)

_MAX_REPORTED_ERRORS = 8


class InvalidEvent(ValueError):
    """Raised for any message that is not a valid tradebus event. ``errors`` holds pydantic's structured
    errors (without input values, which may be large or sensitive) for programs; ``str()`` is for humans."""

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


def _describe(exc: ValidationError, what: str) -> InvalidEvent:
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    parts = []
    for err in errors[:_MAX_REPORTED_ERRORS]:
        loc = ".".join(str(p) for p in err["loc"])
        parts.append(f"{loc}: {err['msg']}" if loc else err["msg"])
    if len(errors) > _MAX_REPORTED_ERRORS:
        parts.append(f"... and {len(errors) - _MAX_REPORTED_ERRORS} more")
    noun = "error" if len(errors) == 1 else "errors"
    return InvalidEvent(f"invalid {what} ({len(errors)} {noun}): " + "; ".join(parts), errors)


def decode_event(raw: bytes | bytearray | str) -> Envelope:
    """Decode any event; the concrete class comes from its ``event_type``. Raises ``InvalidEvent``."""
    try:
        return _ANY_EVENT.validate_json(raw, strict=True)
    except ValidationError as exc:
        raise _describe(exc, "event") from None


def decode(raw: bytes | bytearray | str, event_class: type[E]) -> E:
    """Decode a message that must be one particular event (``event_type`` is still checked)."""
    try:
        return event_class.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        raise _describe(exc, event_class.__name__) from None


def encode_event(event: Envelope) -> bytes:
    """The wire form: compact UTF-8 JSON, decimals as strings, datetimes ISO-8601 UTC ending in ``Z``."""
    return event.__pydantic_serializer__.to_json(event)
