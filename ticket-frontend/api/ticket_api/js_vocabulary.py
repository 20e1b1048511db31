"""Write the trade ticket's JavaScript vocabulary (``src/lib/vocabulary.generated.js``) from ``tradebus_contracts``.

The ticket's JavaScript takes every enum value it branches on from this generated file, so it cannot drift from
the contracts: a test in ``ticket-frontend/tests`` fails when the committed file differs from what this module
renders (``make test``). Only names and values, never a risk rule or a reason code: the risk service decides.

    uv run python -m ticket_api.js_vocabulary            # rewrite ticket-frontend/src/lib/vocabulary.generated.js
    uv run python -m ticket_api.js_vocabulary --check    # exit 1 if the file is stale
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path

from pydantic import TypeAdapter

from tradebus_contracts import generated
from tradebus_contracts.codec import EVENT_TYPES
from tradebus_contracts.events import CancelOutcome, TradingState
from tradebus_contracts.orders import (
    FINAL_PROGRESS,
    PROGRESS_RANK,
    OrderProgress,
    OrderSide,
    OrderType,
    Symbol,
    TimeInForce,
)
from tradebus_contracts.subjects import KIND_BY_EVENT_TYPE, subject_filter

from .live import LIVE_SUBJECTS
from .reducer import ORDER_EVENTS

__all__ = ["COMMAND", "DEFAULT_PATH", "render", "is_stale", "main"]

COMMAND = "uv run python -m ticket_api.js_vocabulary"
# ticket-frontend/api/ticket_api/js_vocabulary.py -> ticket-frontend/src/lib/vocabulary.generated.js
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "src" / "lib" / "vocabulary.generated.js"

_ENUMS: tuple[type[StrEnum], ...] = (OrderSide, OrderType, TimeInForce, OrderProgress, CancelOutcome, TradingState)


def _export(name: str, value: dict[str, str] | dict[str, int] | list[str]) -> str:
    """``export const <name> = Object.freeze(...)``: a list on one line; an enum on one line when it fits in 120
    characters, else an entry a line."""
    if isinstance(value, dict):
        entries, open_, close = [f"{k}: {json.dumps(v)}" for k, v in value.items()], "{ ", " }"
    else:
        entries, open_, close = [json.dumps(v) for v in value], "[", "]"
    line = f"export const {name} = Object.freeze({open_}{', '.join(entries)}{close});"
    if len(line) <= 120 or isinstance(value, list):
        return line
    body = "".join(f"  {entry},\n" for entry in entries)
    return f"export const {name} = Object.freeze({open_.strip()}\n{body}{close.strip()});"


def _enum(enum: type[StrEnum]) -> str:
    return _export(enum.__name__, {m.name: m.value for m in enum})


def _on_live_subjects(kind: str) -> bool:
    """Whether events of this subject kind reach the browser through ``GET /api/events`` (``live.LIVE_SUBJECTS``: the
    filters of the channels the ticket consumes)."""
    return subject_filter(kind) in LIVE_SUBJECTS


def render() -> str:
    """The JavaScript module, byte for byte."""
    symbol = TypeAdapter(Symbol).json_schema()
    final = [p.value for p in OrderProgress if p in FINAL_PROGRESS]
    order_events = [cls.__name__ for cls in ORDER_EVENTS]
    live_events = [cls.__name__ for cls, kind in KIND_BY_EVENT_TYPE.items() if _on_live_subjects(kind)]
    lines = [
        f"// generated from tradebus_contracts — do not edit; regenerate with `{COMMAND}`",
        "// (ticket-frontend/api/ticket_api/js_vocabulary.py). Names and values only: no risk rule, no reason code.",
        "",
        *(_enum(enum) for enum in _ENUMS),
        "",
        "/** The order progress values after which nothing changes (tradebus_contracts.orders.FINAL_PROGRESS). */",
        _export("FINAL_PROGRESS", final),
        "/** How far along its way an order is; every final progress ranks last (tradebus_contracts.orders). */",
        _export("PROGRESS_RANK", {p.value: rank for p, rank in PROGRESS_RANK.items()}),
        "",
        "/** Every event type on the bus, by name (tradebus_contracts.codec.EVENT_TYPES). */",
        _export("EventType", {name: name for name in EVENT_TYPES}),
        "/** The events about one order: the ones the ticket API folds into an order's state. */",
        _export("ORDER_EVENT_TYPES", order_events),
        "/** The events GET /api/events streams (every channel the ticket consumes, tradebus_contracts.topology). */",
        _export("LIVE_EVENT_TYPES", live_events),
        "",
        "/** A symbol as the contracts accept it (tradebus_contracts.orders.Symbol). */",
        f"export const SYMBOL_PATTERN = new RegExp({json.dumps(symbol['pattern'])});",
        f"export const SYMBOL_MAX_LENGTH = {symbol['maxLength']};",
    ]
    return "\n".join(lines) + "\n"


def _expected(out: Path) -> dict[Path, str]:
    return {out: render()}


def is_stale(path: Path = DEFAULT_PATH) -> bool:
    return bool(generated.stale(_expected(path)))


def main(argv: list[str] | None = None) -> int:
    return generated.command_line(argv, prog="python -m ticket_api.js_vocabulary", summary=__doc__.splitlines()[0],
                                  default_out=DEFAULT_PATH, expected=_expected, regenerate=COMMAND)


if __name__ == "__main__":
    sys.exit(main())
