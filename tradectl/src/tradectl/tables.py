"""Plain-text tables for the operator commands: one layout for all of them."""

from __future__ import annotations

from collections.abc import Container, Sequence


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]], right: Container[int] = ()) -> list[str]:
    """Aligned columns, two spaces apart; the columns in ``right`` aligned right (numbers), trailing blanks cut."""
    table = [tuple(header), *(tuple(r) for r in rows)]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    return ["  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
            for r in table]
