"""``tradectl keys set | list | rotate-master`` end to end, as an operator runs them: a real PostgreSQL, a
subprocess, and a canary secret that must never show up in any output."""

import asyncio
import base64
import io
import json
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from tradebus_runtime.vault import get_credentials, load_keyring
from tradectl import credentials
from tradectl.credentials import SCHEMA, read_key_pair

pytestmark = pytest.mark.integration

TRADECTL = str(Path(sys.executable).parent / "tradectl")
CANARY_KEY_ID = "PKCANARY0KEYID9931"
CANARY_SECRET = "CANARY-secret-7f3c1a9e44"


@pytest.fixture
def home(tmp_path):
    return tmp_path / "home"


@pytest.fixture
def env(database_url, home):
    import os

    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TRADEBUS_MASTER_KEY", "TRADEBUS_HOME")}
    return {**base, "DATABASE_URL": database_url, "TRADEBUS_HOME": str(home)}


def tradectl(env, *args, stdin=""):
    return subprocess.run([TRADECTL, "keys", *args], input=stdin, capture_output=True, text=True, env=env, timeout=60)


def assert_no_secret(*results, extra=()):
    for result in results:
        for needle in (CANARY_KEY_ID, CANARY_SECRET, *extra):
            assert needle not in result.stdout and needle not in result.stderr, (needle, result)


def master_keys_in(home):
    return list(json.loads((home / "master.keys").read_text())["keys"].values())


def stored(database_url, home, account, mode):
    async def go():
        conn = await asyncpg.connect(database_url)
        try:
            return await get_credentials(conn, SCHEMA, account, mode, load_keyring(home / "master.keys"))
        finally:
            await conn.close()

    return asyncio.run(go())


def test_keys_set_list_rotate_when_run_as_operator_then_round_trip_and_no_secret_in_output(env, home, database_url):
    set_paper = tradectl(env, "set", "--account", "main", stdin=f"{CANARY_KEY_ID}\n{CANARY_SECRET}\n")
    set_live = tradectl(env, "set", "--account", "main", "--live", stdin=f"{CANARY_KEY_ID}L\n{CANARY_SECRET}L\n")
    first_master = master_keys_in(home)
    listed = tradectl(env, "list")
    rotated = tradectl(env, "rotate-master")
    listed_after = tradectl(env, "list")

    assert set_paper.returncode == 0 and "stored paper credentials for account main" in set_paper.stdout
    assert set_live.returncode == 0 and "stored live credentials" in set_live.stdout
    assert listed.returncode == 0
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["ACCOUNT", "MODE", "MASTER", "KEY", "CREATED", "UPDATED"]
    assert [line.split()[:2] for line in lines[1:]] == [["main", "live"], ["main", "paper"]]
    assert rotated.returncode == 0 and "re-encrypted 2 row(s)" in rotated.stdout
    new_key_id = load_keyring(home / "master.keys").current
    assert new_key_id in rotated.stdout and new_key_id in listed_after.stdout and new_key_id not in listed.stdout
    assert stored(database_url, home, "main", "live").secret == CANARY_SECRET + "L"
    assert_no_secret(set_paper, set_live, listed, rotated, listed_after, extra=first_master + master_keys_in(home))


def test_keys_set_when_input_or_keyring_bad_then_clear_errors_and_no_secret(env, home, database_url):
    one_line = tradectl(env, "set", "--account", "main", stdin=f"{CANARY_KEY_ID}\n")
    blank_secret = tradectl(env, "set", "--account", "main", stdin=f"{CANARY_KEY_ID}\n   \n")
    ok = tradectl(env, "set", "--account", "main", stdin=f"{CANARY_KEY_ID}\n{CANARY_SECRET}\n")
    (home / "master.keys").chmod(0o644)
    open_keyring = tradectl(env, "set", "--account", "main", stdin=f"{CANARY_KEY_ID}\n{CANARY_SECRET}\n")
    rotate_open = tradectl(env, "rotate-master")
    (home / "master.keys").chmod(0o600)

    for failed in (one_line, blank_secret):
        assert failed.returncode != 0 and "must both be non-empty" in failed.stderr
    assert ok.returncode == 0
    for failed in (open_keyring, rotate_open):
        assert failed.returncode != 0 and "accessible by group or others" in failed.stderr
        assert "Traceback" not in failed.stderr
    assert_no_secret(one_line, blank_secret, ok, open_keyring, rotate_open, extra=master_keys_in(home))


def test_keys_rotate_when_row_tampered_or_env_key_then_refused_without_secret(env, home, database_url):
    tradectl(env, "set", "--account", "main", stdin=f"{CANARY_KEY_ID}\n{CANARY_SECRET}\n")
    asyncio.run(_tamper(database_url))
    tampered = tradectl(env, "rotate-master")
    env_key = base64.b64encode(b"k" * 32).decode()
    with_env_key = tradectl({**env, "TRADEBUS_MASTER_KEY": env_key}, "rotate-master")

    assert tampered.returncode != 0
    assert "stored credentials for account main (paper) do not decrypt" in tampered.stderr
    assert with_env_key.returncode != 0 and "TRADEBUS_MASTER_KEY" in with_env_key.stderr
    assert_no_secret(tampered, with_env_key, extra=[env_key, *master_keys_in(home)])


async def _tamper(database_url):
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f"UPDATE {SCHEMA}.broker_credentials SET ciphertext = ciphertext || 'x'::bytea")
    finally:
        await conn.close()


def test_keys_list_when_no_database_url_then_uses_endpoints_or_says_why(env, home, database_url):
    no_db = {k: v for k, v in env.items() if k != "DATABASE_URL"}
    nothing = tradectl(no_db, "list")
    home.mkdir(parents=True)
    (home / "endpoints.json").write_text(json.dumps({"database_url": database_url}))
    from_endpoints = tradectl(no_db, "list")

    assert nothing.returncode != 0 and "no DATABASE_URL set and no running stack found" in nothing.stderr
    assert from_endpoints.returncode == 0 and "no broker credentials stored" in from_endpoints.stdout


def test_read_key_pair_when_stdin_is_a_terminal_then_prompts_without_echo(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    prompts = []
    answers = iter([CANARY_KEY_ID, CANARY_SECRET])
    monkeypatch.setattr(credentials.getpass, "getpass", lambda prompt: prompts.append(prompt) or next(answers))

    assert read_key_pair(Terminal()) == (CANARY_KEY_ID, CANARY_SECRET)
    assert prompts == ["API key id: ", "API secret: "]
