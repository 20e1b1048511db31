"""A service loads its signing key only from a file no one but its owner can read."""

import pytest

from tradebus_contracts.signing import generate_private_key, key_id_for, private_key_to_pem
from tradebus_runtime.keys import load_signing_key


def key_file(tmp_path, mode):
    key = generate_private_key()
    path = tmp_path / "approval-signing.pem"
    path.write_bytes(private_key_to_pem(key))
    path.chmod(mode)
    return path, key


def load(path):
    return load_signing_key(path, service="risk-service", what="signing key", create_with="tradectl keys gen-signing")


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644], ids=oct)
def test_load_signing_key_when_group_or_others_can_read_it_then_refused_naming_the_file_and_chmod_600(tmp_path, mode):
    path, _ = key_file(tmp_path, mode)

    with pytest.raises(SystemExit) as refused:
        load(path)

    message = str(refused.value)
    assert message.startswith("risk-service: ") and str(path) in message and f"chmod 600 {path}" in message


@pytest.mark.parametrize("mode", [0o600, 0o400], ids=oct)
def test_load_signing_key_when_only_its_owner_can_read_it_then_loaded(tmp_path, mode):
    path, key = key_file(tmp_path, mode)

    assert key_id_for(load(path).public_key()) == key_id_for(key.public_key())
