"""``tradectl replay --since/--until`` against a trail the real audit-recorder wrote on real NATS and PostgreSQL: the
window is on when events occurred, since inclusive, until exclusive, in trail order."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from audit_recorder.testing import RecorderProcess, declared_streams, order_story, publish, wait_recorded

pytestmark = pytest.mark.integration

TRADECTL = str(Path(sys.executable).parent / "tradectl")
NOW = datetime.now(UTC).replace(microsecond=0)
HOURS_AGO = (3, 2, 1)  # one order's story (3 events) that long ago each


@pytest.fixture
async def trail(nats_url, database_url, tmp_path):
    """Three orders' stories recorded, the first 3 h ago, the next 2 h ago, the last 1 h ago; yields (order ids,
    a tradectl runner)."""
    stories = [[e.model_copy(update={"occurred_at": NOW - timedelta(hours=h)}) for e in order_story()]
               for h in HOURS_AGO]
    async with declared_streams(nats_url):
        recorder = RecorderProcess(nats_url, database_url, tmp_path / "home")
        try:
            await recorder.start().healthy()
            await publish(nats_url, [e for story in stories for e in story])
            await wait_recorded(nats_url, database_url)
        finally:
            recorder.stop()

    def tradectl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([TRADECTL, "replay", *args], capture_output=True, text=True, timeout=60,
                              env={**os.environ, "DATABASE_URL": database_url, "TRADEBUS_HOME": str(tmp_path / "home")})

    yield [str(story[0].order_id) for story in stories], tradectl


def replayed(result: subprocess.CompletedProcess[str]) -> list[tuple[int, str]]:
    assert result.returncode == 0, result.stderr
    return [(line["seq"], line["event"]["order_id"]) for line in map(json.loads, result.stdout.splitlines())]


async def test_replay_when_a_window_is_given_then_the_events_that_occurred_in_it_in_trail_order(trail):
    (three_h, two_h, one_h), tradectl = trail
    iso = (NOW - timedelta(hours=2)).isoformat().replace("+00:00", "Z")

    window = tradectl("--since", iso, "--until", (NOW - timedelta(hours=1)).isoformat(), "--json")
    relative = tradectl("--since", "150m", "--json")
    typed = tradectl("--since", "4h", "--until", iso, "--type", "OrderRequested")
    empty = tradectl("--since", "30m")

    assert replayed(window) == [(4, two_h), (5, two_h), (6, two_h)]  # 2 h ago is in, 1 h ago is not
    assert replayed(relative) == [(seq, two_h) for seq in (4, 5, 6)] + [(seq, one_h) for seq in (7, 8, 9)]
    assert [line.split()[1] for line in typed.stdout.splitlines()] == ["OrderRequested"]
    assert three_h in typed.stdout
    assert (empty.returncode, empty.stdout, empty.stderr) == (0, "", "tradectl replay: no events match\n")
