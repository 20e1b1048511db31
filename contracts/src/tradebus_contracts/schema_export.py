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

import argparse
import json
import sys
from pathlib import Path

from tradebus_contracts.codec import EVENT_TYPES

__all__ = ["DEFAULT_SCHEMA_DIR", "render_schemas", "write_schemas", "stale_schemas", "main"]

# contracts/src/tradebus_contracts/schema_export.py -> contracts/schemas
DEFAULT_SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"


def render_schemas() -> dict[str, str]:
    """``{"OrderRequested.json": "<schema text>", ...}`` for every event type."""
    return {
        f"{name}.json": json.dumps(cls.model_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        for name, cls in sorted(EVENT_TYPES.items())
    }


def stale_schemas(directory: Path = DEFAULT_SCHEMA_DIR) -> list[str]:
    """File names that are missing, different, or left over from an event that no longer exists."""
    expected = render_schemas()
    present = {p.name for p in directory.glob("*.json")} if directory.is_dir() else set()
    stale = [name for name, text in expected.items() if name not in present or _read(directory / name) != text]
    return sorted(stale + [name for name in present - expected.keys()])


def write_schemas(directory: Path = DEFAULT_SCHEMA_DIR) -> list[str]:
    """Rewrite ``directory`` to match the models; returns the names written or removed."""
    directory.mkdir(parents=True, exist_ok=True)
    changed = stale_schemas(directory)
    expected = render_schemas()
    for name in changed:
        path = directory / name
        if name in expected:
            path.write_text(expected[name], encoding="utf-8")
        else:
            path.unlink()
    return changed


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tradebus_contracts.schema_export", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_SCHEMA_DIR, help="directory (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="only report stale files; exit 1 if any")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_schemas(args.out)
        for name in stale:
            print(f"stale: {args.out / name}")
        return 1 if stale else 0
    changed = write_schemas(args.out)
    print(f"{len(changed)} schema file(s) updated in {args.out}" if changed else f"schemas up to date in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
