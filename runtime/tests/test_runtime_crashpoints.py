"""Crash points (tradebus_runtime.crashpoints): the setting is read strictly, and an armed point is a real kill -9
at the N-th pass of each life, its last word naming the point."""

import json
import signal
import subprocess
import sys

import pytest

from tradebus_runtime.crashpoints import CRASH_POINTS_ENV, crash_point, parse_crash_points


def test_crash_points_when_the_setting_names_points_then_each_is_armed_with_its_period():
    assert parse_crash_points(" gateway.before_post:5, risk.before_publish:1 ,") == {
        "gateway.before_post": 5, "risk.before_publish": 1}
    assert parse_crash_points("") == {}


@pytest.mark.parametrize("bad", ["gateway.before_post", "gateway.before_post:0", ":3", "x:-1", "x:two"])
def test_crash_points_when_an_item_is_not_name_colon_n_then_the_setting_is_refused(bad):
    with pytest.raises(ValueError, match=CRASH_POINTS_ENV):
        parse_crash_points(bad)


def test_crash_point_when_not_armed_then_it_does_nothing():
    for _ in range(3):
        crash_point("nobody.armed.this")


def test_crash_point_when_armed_every_third_pass_then_the_process_says_which_point_and_is_sigkilled_on_the_third():
    script = ("from tradebus_runtime.crashpoints import crash_point\n"
              "for i in range(1, 10):\n"
              "    print(i, flush=True)\n"
              "    crash_point('here')\n")
    done = subprocess.run([sys.executable, "-c", script], env={CRASH_POINTS_ENV: "here:3"}, capture_output=True,
                          text=True, timeout=60)
    struck = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert done.returncode == -signal.SIGKILL
    assert done.stdout.split() == ["1", "2", "3"]
    assert [(x["event"], x["point"], x["pass"]) for x in struck] == [("crash_point.struck", "here", 3)]
