"""The credential vault against a real PostgreSQL: nothing readable at rest, rows bound to themselves, rotation
that survives a crash."""

import base64
import io
import json
import os
import stat
from pathlib import Path

import asyncpg
import pytest
import structlog

from tradebus_runtime import vault
from tradebus_runtime.logging import clear_registered_secrets, configure_logging, get_logger
from tradebus_runtime.vault import (
    CredentialError,
    Keyring,
    ensure_table,
    get_credentials,
    key_id_for,
    keyring_path,
    list_credentials,
    load_keyring,
    put_credentials,
    rotate_master,
)

pytestmark = pytest.mark.integration

SCHEMA = "order_gateway"
KEY_ID = "PKCANARYKEYID7731"
SECRET = "sk-CANARY-secret-5d1e2f"


@pytest.fixture(autouse=True)
def _no_env_master_key(monkeypatch):
    monkeypatch.delenv(vault.ENV_MASTER_KEY, raising=False)


@pytest.fixture
async def conn(database_url):
    connection = await asyncpg.connect(database_url)
    await ensure_table(connection, SCHEMA)
    yield connection
    await connection.close()


def b64_key(byte: int) -> str:
    return base64.b64encode(bytes([byte]) * 32).decode()


async def test_put_then_get_when_same_keyring_then_round_trips(conn, tmp_path):
    keyring = load_keyring(keyring_path(tmp_path))

    await put_credentials(conn, SCHEMA, "main", "paper", KEY_ID, SECRET, keyring)
    creds = await get_credentials(conn, SCHEMA, "main", "paper", keyring)

    assert (creds.account, creds.mode, creds.api_key_id, creds.secret) == ("main", "paper", KEY_ID, SECRET)
    assert SECRET not in repr(creds) and KEY_ID not in repr(creds)
    assert await get_credentials(conn, SCHEMA, "main", "live", keyring) is None


async def test_put_when_same_plaintext_twice_then_fresh_nonce_and_ciphertext(conn, tmp_path):
    keyring = load_keyring(keyring_path(tmp_path))
    seen = []

    for _ in range(2):
        await put_credentials(conn, SCHEMA, "main", "paper", KEY_ID, SECRET, keyring)
        seen.append(await conn.fetchrow(f"SELECT nonce, ciphertext FROM {SCHEMA}.broker_credentials"))

    assert seen[0]["nonce"] != seen[1]["nonce"]
    assert seen[0]["ciphertext"] != seen[1]["ciphertext"]


async def test_put_when_stored_then_no_column_of_any_row_holds_plaintext(conn, tmp_path):
    keyring = load_keyring(keyring_path(tmp_path))
    await put_credentials(conn, SCHEMA, "main", "paper", KEY_ID, SECRET, keyring)
    await put_credentials(conn, SCHEMA, "main", "live", KEY_ID + "L", SECRET + "L", keyring)

    rows = await conn.fetch(f"SELECT t::text AS row_text, encode(t.ciphertext, 'escape') AS raw "
                            f"FROM {SCHEMA}.broker_credentials t")
    dump = "\n".join(r["row_text"] + r["raw"] for r in rows)
    master = json.loads(keyring_path(tmp_path).read_text())["keys"][keyring.current]

    assert len(rows) == 2
    for needle in (KEY_ID, SECRET, SECRET.encode().hex(), master, "api_key_id", "secret"):
        assert needle not in dump


@pytest.mark.parametrize("target", [("other", "paper"), ("main", "live")])
async def test_get_when_ciphertext_copied_to_another_row_then_does_not_decrypt(conn, tmp_path, target):
    keyring = load_keyring(keyring_path(tmp_path))
    await put_credentials(conn, SCHEMA, "main", "paper", KEY_ID, SECRET, keyring)
    await put_credentials(conn, SCHEMA, *target, "PKOTHER", "other-secret", keyring)
    await conn.execute(
        f"""UPDATE {SCHEMA}.broker_credentials t SET nonce = s.nonce, ciphertext = s.ciphertext
            FROM {SCHEMA}.broker_credentials s
            WHERE s.account = 'main' AND s.mode = 'paper' AND t.account = $1 AND t.mode = $2""",
        *target,
    )

    with pytest.raises(CredentialError, match="do not decrypt: wrong master key or tampered row") as caught:
        await get_credentials(conn, SCHEMA, *target, keyring)

    assert SECRET not in str(caught.value) and KEY_ID not in str(caught.value)


async def test_get_when_wrong_master_key_then_credential_error_without_secret(conn, tmp_path):
    right = load_keyring(keyring_path(tmp_path))
    await put_credentials(conn, SCHEMA, "main", "paper", KEY_ID, SECRET, right)
    other = load_keyring(keyring_path(tmp_path / "other"))
    impostor = Keyring(right.current, {right.current: bytes(32)})  # claims the row's key id, is not that key

    with pytest.raises(CredentialError, match="does not have") as unknown:
        await get_credentials(conn, SCHEMA, "main", "paper", other)
    with pytest.raises(CredentialError, match="wrong master key or tampered row") as claimed:
        await get_credentials(conn, SCHEMA, "main", "paper", impostor)

    for exc in (unknown.value, claimed.value):
        assert SECRET not in str(exc) and KEY_ID not in str(exc)


def test_load_keyring_when_first_use_then_file_created_0600_with_derived_key_id(tmp_path):
    path = keyring_path(tmp_path / "home")

    keyring = load_keyring(path)
    again = load_keyring(path)

    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert again.current == keyring.current == key_id_for(keyring.keys[keyring.current])
    assert len(keyring.current) == 12
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_load_keyring_when_file_readable_by_others_then_refused(tmp_path):
    path = keyring_path(tmp_path)
    load_keyring(path)
    path.chmod(0o644)

    with pytest.raises(CredentialError, match=r"accessible by group or others \(mode 0644\).*chmod 600"):
        load_keyring(path)


def test_load_keyring_when_missing_and_create_false_then_clear_error(tmp_path):
    with pytest.raises(CredentialError, match="no master key"):
        load_keyring(keyring_path(tmp_path), create=False)


async def test_load_keyring_when_env_master_key_set_then_overrides_file(conn, tmp_path, monkeypatch):
    file_keyring = load_keyring(keyring_path(tmp_path))
    monkeypatch.setenv(vault.ENV_MASTER_KEY, b64_key(1))

    env_keyring = load_keyring(keyring_path(tmp_path))
    await put_credentials(conn, SCHEMA, "main", "paper", KEY_ID, SECRET, env_keyring)
    monkeypatch.setenv(vault.ENV_MASTER_KEY, "ops-2026:" + b64_key(1))
    named = load_keyring(keyring_path(tmp_path))

    assert env_keyring.path is None and env_keyring.current != file_keyring.current
    assert env_keyring.current == key_id_for(bytes([1]) * 32)
    assert (await list_credentials(conn, SCHEMA))[0].master_key_id == env_keyring.current
    assert named.current == "ops-2026"
    with pytest.raises(CredentialError, match="does not have"):
        await get_credentials(conn, SCHEMA, "main", "paper", file_keyring)


async def test_rotate_master_when_env_master_key_set_then_refuses_and_says_what_to_do(conn, tmp_path, monkeypatch):
    monkeypatch.setenv(vault.ENV_MASTER_KEY, b64_key(1))

    with pytest.raises(CredentialError, match="cannot rotate.*unset TRADEBUS_MASTER_KEY"):
        await rotate_master(conn, SCHEMA, keyring_path(tmp_path))


async def test_rotate_master_when_rows_exist_then_all_reencrypted_and_old_key_retired(conn, tmp_path):
    path = keyring_path(tmp_path)
    old = load_keyring(path)
    for account, mode in [("main", "paper"), ("main", "live"), ("second", "paper")]:
        await put_credentials(conn, SCHEMA, account, mode, KEY_ID + account, SECRET + mode, old)
    before = {(r["account"], r["mode"]): r["ciphertext"] for r in await conn.fetch(
        f"SELECT * FROM {SCHEMA}.broker_credentials")}

    report = await rotate_master(conn, SCHEMA, path)
    new = load_keyring(path)
    after = await conn.fetch(f"SELECT * FROM {SCHEMA}.broker_credentials")

    assert report.rows_reencrypted == 3 and report.retired_key_ids == (old.current,)
    assert new.current == report.new_key_id != old.current and set(new.keys) == {new.current}
    assert {r["master_key_id"] for r in after} == {new.current}
    assert all(before[(r["account"], r["mode"])] != r["ciphertext"] for r in after)
    assert (await get_credentials(conn, SCHEMA, "second", "paper", new)).secret == SECRET + "paper"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    # An old ciphertext put back does not open under the new key alone.
    await conn.execute(f"UPDATE {SCHEMA}.broker_credentials SET ciphertext = $1, master_key_id = $2 "
                       "WHERE account = 'main' AND mode = 'paper'", before[("main", "paper")], new.current)
    with pytest.raises(CredentialError, match="do not decrypt"):
        await get_credentials(conn, SCHEMA, "main", "paper", new)


async def test_rotate_master_when_crash_after_commit_before_keyring_update_then_rows_still_decrypt(
    conn, tmp_path, monkeypatch
):
    path = keyring_path(tmp_path)
    old = load_keyring(path)
    await put_credentials(conn, SCHEMA, "main", "paper", KEY_ID, SECRET, old)
    real_write = vault._write_keyring
    writes = []

    def crash_on_final_write(*args, **kwargs):
        writes.append(args)
        if len(writes) == 2:  # (1) added the new key; (2) would make it current: die here
            raise SystemExit("simulated crash")
        real_write(*args, **kwargs)

    monkeypatch.setattr(vault, "_write_keyring", crash_on_final_write)
    with pytest.raises(SystemExit):
        await rotate_master(conn, SCHEMA, path)
    monkeypatch.setattr(vault, "_write_keyring", real_write)

    after_crash = load_keyring(path)
    row = await conn.fetchrow(f"SELECT master_key_id FROM {SCHEMA}.broker_credentials")
    creds = await get_credentials(conn, SCHEMA, "main", "paper", after_crash)
    report = await rotate_master(conn, SCHEMA, path)  # the next rotation cleans up

    assert row["master_key_id"] != old.current and row["master_key_id"] in after_crash.keys
    assert creds.secret == SECRET
    assert set(load_keyring(path).keys) == {report.new_key_id}
    assert (await get_credentials(conn, SCHEMA, "main", "paper", load_keyring(path))).secret == SECRET


async def test_rotate_master_when_a_row_does_not_decrypt_then_nothing_changes(conn, tmp_path):
    path = keyring_path(tmp_path)
    keyring = load_keyring(path)
    await put_credentials(conn, SCHEMA, "main", "paper", KEY_ID, SECRET, keyring)
    await put_credentials(conn, SCHEMA, "main", "live", KEY_ID, SECRET, keyring)
    await conn.execute(f"UPDATE {SCHEMA}.broker_credentials SET ciphertext = 'x'::bytea || ciphertext "
                       "WHERE mode = 'live'")

    with pytest.raises(CredentialError, match=r"main \(live\) do not decrypt"):
        await rotate_master(conn, SCHEMA, path)

    assert {r["master_key_id"] for r in await conn.fetch(f"SELECT * FROM {SCHEMA}.broker_credentials")} == {
        keyring.current}
    assert load_keyring(path).current == keyring.current


async def test_put_when_mode_unknown_then_refused(conn, tmp_path):
    with pytest.raises(ValueError, match="paper or live"):
        await put_credentials(conn, SCHEMA, "main", "demo", KEY_ID, SECRET, load_keyring(keyring_path(tmp_path)))


def test_keyring_file_when_written_then_is_json_with_current_and_base64_keys(tmp_path: Path):
    keyring = load_keyring(keyring_path(tmp_path))

    body = json.loads(keyring_path(tmp_path).read_text())

    assert body["current"] == keyring.current
    assert base64.b64decode(body["keys"][keyring.current]) == keyring.keys[keyring.current]


async def test_log_when_vault_secrets_echoed_in_errors_then_every_line_masks_them(conn, tmp_path):
    buffer = io.StringIO()
    configure_logging("test-vault", "debug", "json", stream=buffer)
    try:
        keyring = load_keyring(keyring_path(tmp_path / "fresh"))  # logs vault.keyring_created
        master_b64 = base64.b64encode(keyring.keys[keyring.current]).decode()
        await put_credentials(conn, SCHEMA, "main", "paper", KEY_ID, SECRET, keyring)
        creds = await get_credentials(conn, SCHEMA, "main", "paper", keyring)
        await rotate_master(conn, SCHEMA, keyring_path(tmp_path / "fresh"))  # logs vault.master_rotated
        try:  # a broker error that echoes what it was given, logged with its traceback
            raise RuntimeError(f"unauthorized: key {creds.api_key_id} secret {creds.secret} master {master_b64}")
        except RuntimeError:
            get_logger("t").exception("broker.rejected", detail=f"{creds.api_key_id}/{creds.secret}", creds=creds)
    finally:
        clear_registered_secrets()
        structlog.reset_defaults()

    lines = buffer.getvalue().splitlines()
    assert any("vault.master_rotated" in line for line in lines) and any("broker.rejected" in line for line in lines)
    assert not [line for line in lines if KEY_ID in line or SECRET in line or master_b64 in line]
