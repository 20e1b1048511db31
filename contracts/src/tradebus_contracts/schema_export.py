"""Export the JSON Schema of every event to ``contracts/schemas/<EventType>.json``.

The files are committed so that non-Python consumers (the frontend, operators' scripts, reviewers reading a
diff) see the wire contract, and a test fails when a model changes without a re-export:

    uv run python -m tradebus_contracts.schema_export            # rewrite contracts/schemas/
    uv run python -m tradebus_contracts.schema_export --check    # exit 1 if the files are stale

Output is stable: sorted keys, two-space indent, newline at the end. Schemas are pydantic's *validation*
schemas (what a consumer accepts). With ``asyncapi_export``, the only modules of this package that touch
files, and only when run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tradebus_contracts import generated
from tradebus_contracts.codec import EVENT_TYPES

__all__ = ["DEFAULT_SCHEMA_DIR", "render_schemas", "main"]

# contracts/src/tradebus_contracts/schema_export.py -> contracts/schemas
DEFAULT_SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"
REGENERATE = "uv run python -m tradebus_contracts.schema_export"


def render_schemas() -> dict[str, str]:
    """``{"OrderRequested.json": "<schema text>", ...}`` for every event type."""
    return {
        f"{name}.json": json.dumps(cls.model_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        for name, cls in sorted(EVENT_TYPES.items())
    }


def _expected(directory: Path) -> dict[Path, str]:
    return {directory / name: text for name, text in render_schemas().items()}


def _owned(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.json")) if directory.is_dir() else []


def main(argv: list[str] | None = None) -> int:
    return generated.command_line(argv, prog="python -m tradebus_contracts.schema_export",
                                  summary=__doc__.splitlines()[0], default_out=DEFAULT_SCHEMA_DIR,
                                  expected=_expected, owned=_owned, regenerate=REGENERATE)


if __name__ == "__main__":
    sys.exit(main())
