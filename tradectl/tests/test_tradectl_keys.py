import os
import stat
import subprocess
import sys
from pathlib import Path

from tradebus_contracts.signing import key_id_for, private_key_from_pem, public_key_from_b64
from tradectl.keys import ensure_signing_key, generate_signing_key

TRADECTL = str(Path(sys.executable).parent / "tradectl")


def test_gen_signing_when_run_then_private_key_is_0600_and_public_key_matches(tmp_path):
    files = generate_signing_key(tmp_path / "keys")

    mode = stat.S_IMODE(os.stat(files.private_path).st_mode)
    private = private_key_from_pem(files.private_path.read_bytes())

    assert mode == 0o600
    assert key_id_for(private.public_key()) == files.key_id
    assert key_id_for(public_key_from_b64(files.public_path.read_text().strip())) == files.key_id


def test_gen_signing_when_key_exists_then_refused_unless_forced(tmp_path):
    first = generate_signing_key(tmp_path)

    refused = subprocess.run([TRADECTL, "keys", "gen-signing", "--dir", str(tmp_path)], capture_output=True, text=True)
    forced = subprocess.run([TRADECTL, "keys", "gen-signing", "--dir", str(tmp_path), "--force"], capture_output=True,
                            text=True)

    assert refused.returncode != 0 and "already exists" in refused.stderr
    assert forced.returncode == 0 and first.key_id not in forced.stdout
    assert "BEGIN" not in forced.stdout  # the private key is never printed


def test_ensure_signing_key_when_pair_exists_then_reused(tmp_path):
    first = ensure_signing_key(tmp_path)
    second = ensure_signing_key(tmp_path)

    assert second.key_id == first.key_id
