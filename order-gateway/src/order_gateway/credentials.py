"""Which broker credentials the gateway uses: the encrypted vault first, the simulator's sandbox pair otherwise.

Credentials live AES-256-GCM-encrypted in ``order_gateway.broker_credentials`` (tradebus_runtime.vault), put
there by ``tradectl keys set``; the master key is in ``$TRADEBUS_HOME/master.keys`` or TRADEBUS_MASTER_KEY,
never in the database. Paper and live are separate entries: live credentials are never used for paper.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg

from tradebus_runtime import vault

SCHEMA = "order_gateway"
SIMULATOR_PAIR = ("tradebus-sim", "tradebus-sim-sandbox")  # alpaca-sim accepts any pair unless given a fixed one


async def resolve_credentials(pool: asyncpg.Pool, home: Path, account: str, mode: str, *,
                              simulator: bool) -> tuple[str, str]:
    async with pool.acquire() as conn:
        await vault.ensure_table(conn, SCHEMA)
        stored = [c for c in await vault.list_credentials(conn, SCHEMA) if c.account == account and c.mode == mode]
        if stored:
            keyring = vault.load_keyring(vault.keyring_path(home), create=False)
            creds = await vault.get_credentials(conn, SCHEMA, account, mode, keyring)
            if creds is not None:
                return creds.api_key_id, creds.secret
    if simulator:
        return SIMULATOR_PAIR
    flag = " --live" if mode == "live" else ""
    raise SystemExit(f"order-gateway: no {mode} credentials stored for account {account!r}; store them with "
                     f"`tradectl keys set --account {account}{flag}` (or run against alpaca-sim)")
