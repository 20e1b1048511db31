"""``tradectl keys set | list | rotate-master``: the broker credentials the order gateway uses.

The credentials are stored AES-256-GCM-encrypted in the gateway's schema (`tradebus_runtime.vault`); the master
key stays in ``$TRADEBUS_HOME/master.keys`` (or ``TRADEBUS_MASTER_KEY``). The key id and secret come from stdin
(two lines, for scripts) or from a no-echo prompt, never from the command line, where ``ps`` and the shell history
would see them. Nothing here prints a secret or an API key id, not even in an error.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from typing import IO, TypeVar

import asyncpg

from tradebus_runtime.vault import (
    CredentialError,
    ensure_table,
    keyring_path,
    list_credentials,
    load_keyring,
    put_credentials,
    rotate_master,
)

from . import access
from .home import database_url_for_cli, resolve_home
from .tables import text_table

SCHEMA = "order_gateway"  # the gateway owns the table; tradectl writes it on the operator's behalf
T = TypeVar("T")


def read_key_pair(stdin: IO[str]) -> tuple[str, str]:
    """API key id and secret: prompted without echo on a terminal, else the first two lines of stdin."""
    if stdin.isatty():
        key_id = getpass.getpass("API key id: ")
        secret = getpass.getpass("API secret: ")
    else:
        key_id, secret = stdin.readline().strip(), stdin.readline().strip()
    if not key_id or not secret:
        raise SystemExit("tradectl: the API key id and the secret must both be non-empty (two lines on stdin)")
    return key_id, secret


def _run(home_arg: str | None, action: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    dsn = database_url_for_cli(home_arg)

    async def go() -> T:
        try:
            conn = await access.pg_connect(dsn, timeout=10)
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            raise SystemExit(f"tradectl: cannot reach the database ({type(exc).__name__}: {exc})") from None
        try:
            await ensure_table(conn, SCHEMA)
            return await action(conn)
        finally:
            await conn.close()

    try:
        return asyncio.run(go())
    except CredentialError as exc:
        raise SystemExit(f"tradectl: {exc}") from None


def run_keys_set(home_arg: str | None, account: str, live: bool, stdin: IO[str] = sys.stdin) -> int:
    if not account.strip():
        raise SystemExit("tradectl: --account must not be empty")
    mode = "live" if live else "paper"
    path = keyring_path(resolve_home(home_arg))
    key_id, secret = read_key_pair(stdin)

    async def store(conn: asyncpg.Connection) -> str:
        keyring = load_keyring(path)
        await put_credentials(conn, SCHEMA, account, mode, key_id, secret, keyring)
        return keyring.current

    master_key_id = _run(home_arg, store)
    print(f"stored {mode} credentials for account {account} (encrypted under master key {master_key_id})")
    return 0


def run_keys_list(home_arg: str | None) -> int:
    entries = _run(home_arg, lambda conn: list_credentials(conn, SCHEMA))
    if not entries:
        print("no broker credentials stored (tradectl up uses alpaca-sim)")
        return 0
    header = ("ACCOUNT", "MODE", "MASTER KEY", "CREATED", "UPDATED")
    rows = [(e.account, e.mode, e.master_key_id, f"{e.created_at:%Y-%m-%d %H:%M:%S%z}",
             f"{e.updated_at:%Y-%m-%d %H:%M:%S%z}") for e in entries]
    print("\n".join(text_table(header, rows)))
    return 0


def run_keys_rotate_master(home_arg: str | None) -> int:
    path = keyring_path(resolve_home(home_arg))
    report = _run(home_arg, lambda conn: rotate_master(conn, SCHEMA, path))
    retired = ", ".join(report.retired_key_ids) or "none"
    print(f"re-encrypted {report.rows_reencrypted} row(s) under new master key {report.new_key_id} "
          f"(retired: {retired}; keyring {path})")
    return 0
