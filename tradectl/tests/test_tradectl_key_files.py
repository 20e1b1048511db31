"""`tradectl up`'s signing key pairs on disk: a private key others can read is refused, a lost ``.pub`` is derived
again from its ``.pem`` (the pair is never silently replaced), and only a home with neither gets a new pair."""

import pytest

from tradebus_contracts.signing import key_id_for, private_key_from_pem, public_key_from_b64
from tradebus_runtime.keys import KeyFileError
from tradectl.keys import AUDIT_KEY_NAME, ensure_signing_key, generate_signing_key


@pytest.mark.parametrize("name", ["approval-signing", AUDIT_KEY_NAME])
def test_ensure_signing_key_when_the_pub_is_missing_then_derived_from_the_pem_and_the_pair_kept(tmp_path, name):
    made = generate_signing_key(tmp_path, name)
    pem = made.private_path.read_bytes()
    made.public_path.unlink()

    again = ensure_signing_key(tmp_path, name)

    assert made.private_path.read_bytes() == pem  # the same private key: approvals and checkpoints still verify
    assert (again.key_id, again.public_b64) == (made.key_id, made.public_b64)
    assert again.public_path.read_text().strip() == made.public_b64
    assert key_id_for(public_key_from_b64(again.public_b64)) == key_id_for(private_key_from_pem(pem).public_key())


def test_ensure_signing_key_when_neither_file_exists_then_a_new_pair_0600(tmp_path):
    made = ensure_signing_key(tmp_path / "keys")

    assert made.private_path.stat().st_mode & 0o777 == 0o600 and made.public_path.exists()


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644], ids=oct)
def test_ensure_signing_key_when_group_or_others_can_read_the_pem_then_refused_naming_the_file_and_the_fix(
        tmp_path, mode):
    made = generate_signing_key(tmp_path)
    made.private_path.chmod(mode)

    with pytest.raises(KeyFileError) as refused:
        ensure_signing_key(tmp_path)

    assert str(made.private_path) in str(refused.value) and f"chmod 600 {made.private_path}" in str(refused.value)
