"""The supervisor runs planned children: start until healthy, restart after an exit, stop group by group.

The children are small HTTP servers (python -c), so these tests need neither NATS nor PostgreSQL.
"""

import asyncio
import os
import signal
import sys
import urllib.request

import pytest

from tradectl.embedded import free_port
from tradectl.plan import ChildPlan, HttpHealth
from tradectl.supervisor import STABLE_AFTER_S, StartFailed, Supervisor, crashes_in_a_row, restart_delay

# Serves HTTP on argv[1]; on SIGTERM appends argv[3] to the file argv[2] (so a test sees the order of stops).
HTTP_CHILD = """
import http.server, signal, sys
def bye(*_):
    with open(sys.argv[2], "a") as f:
        f.write(sys.argv[3] + "\\n")
    sys.exit(0)
signal.signal(signal.SIGTERM, bye)
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), http.server.SimpleHTTPRequestHandler).serve_forever()
"""


def http_child(tmp_path, name, stop_group=0):
    port = free_port()
    argv = (sys.executable, "-c", HTTP_CHILD, str(port), str(tmp_path / "stopped.txt"), name)
    return ChildPlan(name, argv, dict(os.environ), tmp_path / f"{name}.log", HttpHealth(f"http://127.0.0.1:{port}/"),
                     stop_group, 2.0)


def answers(url):
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return resp.status == 200
    except OSError:
        return False


async def test_start_when_the_binary_is_missing_then_start_failed_says_it_is_not_installed(tmp_path):
    child = http_child(tmp_path, "ghost")
    missing = ChildPlan(child.name, (str(tmp_path / "no-such-binary"),), child.env, child.log_path, child.health,
                        child.stop_group, child.stop_timeout_s)

    with pytest.raises(StartFailed, match="ghost is not installed in this environment"):
        await Supervisor(asyncio.Event(), print).start([missing])


async def test_start_when_a_child_exits_during_start_then_start_failed_names_its_code_and_log(tmp_path):
    child = http_child(tmp_path, "quitter")
    quitter = ChildPlan(child.name, (sys.executable, "-c", "raise SystemExit(3)"), child.env, child.log_path,
                        child.health, child.stop_group, child.stop_timeout_s)
    supervisor = Supervisor(asyncio.Event(), print)

    with pytest.raises(StartFailed) as failed:
        await supervisor.start([quitter])
    await supervisor.stop()

    assert str(failed.value) == f"quitter exited with 3 during start; see {child.log_path}"


def test_restart_delay_when_a_child_crashes_then_the_first_five_restarts_are_fast_and_only_then_it_backs_off():
    delays = [restart_delay(crashes) for crashes in range(1, 13)]

    assert delays == [0.5, 0.5, 0.5, 0.5, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert sum(delays[:5]) <= 5  # five crashes cost under 5 s of waiting in all (was 1+2+4+8+16 = 31 s)


def test_crashes_in_a_row_when_the_child_had_run_a_stable_period_then_the_count_starts_over():
    assert crashes_in_a_row(0, 0.2) == 1
    assert crashes_in_a_row(7, 3.0) == 8
    assert crashes_in_a_row(7, STABLE_AFTER_S) == 1
    assert restart_delay(crashes_in_a_row(9, STABLE_AFTER_S + 1)) == 0.5


async def test_supervise_when_a_child_is_killed_then_it_is_restarted_within_a_second_and_the_restart_is_said(
    tmp_path
):
    child = http_child(tmp_path, "phoenix")
    stopping, said = asyncio.Event(), []
    supervisor = Supervisor(stopping, said.append)
    spawned = []
    await supervisor.start([child], on_spawned=lambda _child, pid: spawned.append(pid))
    supervising = asyncio.create_task(supervisor.supervise())

    os.kill(spawned[0], signal.SIGKILL)
    back = False
    for _ in range(100):
        await asyncio.sleep(0.1)
        back = bool(said) and await asyncio.to_thread(answers, child.health.url)
        if back:
            break
    stopping.set()
    await supervising
    await supervisor.stop()

    assert back
    assert said == [f"  ! phoenix exited with code -9; restarting in 0.5s (restart #1, log {child.log_path})"]
    assert await asyncio.to_thread(answers, child.health.url) is False


async def test_stop_when_children_are_in_two_groups_then_the_lower_group_is_stopped_first(tmp_path):
    late, early = http_child(tmp_path, "late", stop_group=1), http_child(tmp_path, "early", stop_group=0)
    supervisor = Supervisor(asyncio.Event(), print)
    healthy = []
    await supervisor.start([late, early], on_healthy=lambda c: healthy.append(c.name))

    await supervisor.stop()

    assert healthy == ["late", "early"]
    assert (tmp_path / "stopped.txt").read_text().split() == ["early", "late"]
