"""The account's positions as the broker last reported them, for the gateway's own REDUCING gate.

One writer, one reader: `RefDataPublisher.refresh_account` replaces them on every account refresh; the approval
handler reads one symbol's quantity. Until the first refresh they are unknown, and the gate treats an unknown
position as "not provably reducing".
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal


class BrokerPositions:
    def __init__(self) -> None:
        self._held: dict[str, Decimal] | None = None  # symbol -> signed qty; None until the broker first says

    def qty(self, symbol: str) -> Decimal | None:
        """The signed quantity held (0 when flat), or None while the positions are not known yet."""
        if self._held is None:
            return None
        return self._held.get(symbol, Decimal(0))

    def replace(self, held: Mapping[str, Decimal]) -> set[str]:
        """Take the broker's latest positions; returns the symbols no longer held."""
        gone = set(self._held or {}) - set(held)
        self._held = dict(held)
        return gone
