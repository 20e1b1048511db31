"""Files generated from the contracts and checked in — the JSON Schemas (``schema_export``), ``docs/asyncapi.yaml``
(``asyncapi_export``), the ticket's JavaScript vocabulary — and one way to check them for drift and rewrite them.

A generator says, for an output location, which files it produces and their text (``expected``), and optionally
which files it owns there (``owned``: a file it owns but no longer produces is left over, and removed on write).
A file is stale when it is missing, differs, or is left over. Each generator's ``main`` is `command_line`:

    python -m <generator>            # rewrite what is stale
    python -m <generator> --check    # exit 1 if anything is stale (the drift tests do the same in `make test`)
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

__all__ = ["stale", "write", "command_line"]

Expected = Callable[[Path], Mapping[Path, str]]
Owned = Callable[[Path], Iterable[Path]]


def stale(expected: Mapping[Path, str], owned: Iterable[Path] = ()) -> list[Path]:
    """The files that are missing or differ from ``expected``, and the ``owned`` ones no longer expected."""
    differ = [p for p, text in expected.items() if not p.is_file() or p.read_text(encoding="utf-8") != text]
    return sorted(differ + [p for p in owned if p not in expected])


def write(expected: Mapping[Path, str], owned: Iterable[Path] = ()) -> list[Path]:
    """Rewrite the stale files, remove the left-over ones; returns the paths written or removed."""
    changed = stale(expected, owned)
    for path in changed:
        if path in expected:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(expected[path], encoding="utf-8")
        else:
            path.unlink()
    return changed


def command_line(argv: list[str] | None, *, prog: str, summary: str, default_out: Path, expected: Expected,
                 regenerate: str, owned: Owned = lambda _: ()) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=summary)
    parser.add_argument("--out", type=Path, default=default_out, help="where to write (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="only report what is stale; exit 1 if anything is")
    args = parser.parse_args(argv)
    files, present = expected(args.out), list(owned(args.out))
    if args.check:
        found = stale(files, present)
        for path in found:
            print(f"stale: {path} (regenerate with: {regenerate})")
        return 1 if found else 0
    changed = write(files, present)
    print(f"{len(changed)} file(s) updated in {args.out}" if changed else f"{args.out} is up to date")
    return 0
