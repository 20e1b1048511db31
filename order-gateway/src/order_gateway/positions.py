"""The account's positions as the broker last reported them, for the gateway's own REDUCING gate.

One writer, one reader: `RefDataPublisher.refresh_account` replaces them on every account refresh; the approval
handler reads one symbol's quantity, and when that answer came in (``as_of``, this process's clock: the gate
compares it with when its own fills were recorded, see ``tradebus_contracts.projection``). Until the first refresh
they are unknown, and the gate treats an unknown position as "not provably reducing".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal

from tradebus_contracts.envelope import utc_now


class BrokerPositions:
    def __init__(self, clock: Callable[[], datetime] = utc_now) -> None:
        self._held: dict[str, Decimal] | None = None  # symbol -> signed qty; None until the broker first says
        self._as_of: datetime | None = None
        self._clock = clock

    def qty(self, symbol: str) -> Decimal | None:
        """The signed quantity held (0 when flat), or None while the positions are not known yet."""
        if self._held is None:
            return None
        return self._held.get(symbol, Decimal(0))

    @property
    def as_of(self) -> datetime | None:
        """When the broker's latest answer was taken in (None before the first)."""
        return self._as_of

    @property
    def known(self) -> bool:
        return self._held is not None

    def replace(self, held: Mapping[str, Decimal], as_of: datetime | None = None) -> set[str]:
        """Take the broker's latest positions, asked for at ``as_of`` (default: now); returns the symbols no longer
        held."""
        gone = set(self._held or {}) - set(held)
        self._held = dict(held)
        self._as_of = self._clock() if as_of is None else as_of
        return gone
