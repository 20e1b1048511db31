"""How a process reaches NATS and signs in to a secured one: the server list of a URL setting, and the connect options
of an identity and its seed."""

from __future__ import annotations

import os
from typing import Any

from tradebus_contracts.permissions import inbox_prefix


def identity_options(identity: str, seed_file: str | os.PathLike[str] | None) -> dict[str, Any]:
    """How ``identity`` signs in: its nkey seed file (the seed never crosses the wire: the server sends a challenge)
    and its own inbox prefix, which its NATS permissions let nobody else read (``tradebus_contracts.permissions``).
    No seed file: an unsecured server (the throw-away ones of the tests), default inboxes."""
    if not seed_file:
        return {}
    return {"nkeys_seed": os.fspath(seed_file), "inbox_prefix": inbox_prefix(identity)}


def nats_servers(url: str) -> list[str]:
    """``NATS_URL`` as nats-py takes it: one URL, or every server of a cluster, comma-separated."""
    return [u.strip() for u in url.split(",") if u.strip()]
