"""Supervised background work: a failed task restarts with backoff, health says degraded meanwhile, a task that
cannot recover makes the service exit non-zero; a PostgreSQL restart under a running service is recovered from."""

import asyncio
import os
import subprocess
import sys
import textwrap

import nats
import pytest

from tradebus_runtime.health import Degraded, HealthReporter, ask, overall_status
from tradebus_runtime.service import ServiceApp, ServiceGaveUp, Wiring
from tradebus_runtime.settings import ServiceSettings
from tradebus_runtime.supervision import GiveUp, Restart, RestartPolicy, Streak, Supervised, after_failure, task_health
from tradectl.testing import eventually

POLICY = RestartPolicy(first_delay_s=0.5, max_delay_s=30.0, stable_after_s=10.0, give_up_after_s=300.0)


def fail_repeatedly(times, *, every_s=0.0, ran_s=0.0):
    """The streak and decisions after ``times`` failures, each run lasting ``ran_s``, ``every_s`` apart."""
    streak, decisions, now = Streak(), [], 1000.0
    for _ in range(times):
        streak, decision = after_failure(streak, POLICY, ran_s=ran_s, now=now, error="ConnectionDoesNotExistError")
        decisions.append(decision)
        now += every_s
    return streak, decisions


# --- the schedule, as pure functions -------------------------------------------------------------------------


def test_after_failure_when_a_task_fails_in_a_row_then_the_delay_doubles_from_half_a_second_to_30s():
    _, decisions = fail_repeatedly(9, every_s=1.0)

    assert [d.delay_s for d in decisions] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]


def test_after_failure_when_the_last_run_lasted_past_stable_after_then_the_streak_starts_over():
    streak, _ = fail_repeatedly(5, every_s=1.0)

    streak, decision = after_failure(streak, POLICY, ran_s=10.0, now=5000.0, error="OSError: reset")

    assert decision == Restart(0.5)
    assert streak == Streak(1, 5000.0, "OSError: reset")


def test_after_failure_when_failing_continuously_for_give_up_after_then_it_gives_up_with_the_reason():
    streak, decisions = fail_repeatedly(12, every_s=30.0)  # 11 x 30 s = 330 s of failing

    assert all(isinstance(d, Restart) for d in decisions[:10])  # 300 s reached at the 11th failure
    assert isinstance(decisions[10], GiveUp) and streak.given_up
    assert "failing for 300s (11 failures in a row), last: ConnectionDoesNotExistError" in decisions[10].reason


def test_task_health_when_failing_then_degraded_with_the_reason_until_it_has_run_stable_after():
    streak, _ = fail_repeatedly(3, every_s=2.0)  # first failure at 1000, last at 1004

    waiting = task_health("poll", streak, POLICY, running_since=None, now=1005.0)
    young = task_health("poll", streak, POLICY, running_since=1006.0, now=1010.0)
    settled = task_health("poll", streak, POLICY, running_since=1006.0, now=1016.0)

    assert waiting == Degraded("poll failed 3x in a row for 5s, restarting; last: ConnectionDoesNotExistError")
    assert isinstance(young, Degraded) and "poll restarted after 3 failure(s)" in young.reason
    assert settled is True
    assert task_health("poll", Streak(), POLICY, running_since=1.0, now=2.0) is True
    assert task_health("poll", Streak(3, 1.0, "x", given_up=True), POLICY, running_since=None, now=2.0) is False


def test_restart_policy_when_delays_are_inconsistent_then_refused():
    with pytest.raises(ValueError):
        RestartPolicy(first_delay_s=5.0, max_delay_s=1.0)


# --- health: degraded is reported with its reason, and is not ok ----------------------------------------------


def test_overall_status_when_some_checks_are_degraded_and_none_fail_then_degraded():
    assert overall_status(True, {"nats": True, "background": False}, {"background": "poll restarting"}) == "degraded"
    assert overall_status(True, {"nats": False, "background": False}, {"background": "x"}) == "failing"
    assert overall_status(True, {"nats": True}, {}) == "ok"
    assert overall_status(False, {"nats": True}, {}) == "starting"


async def test_report_when_a_check_is_degraded_then_checks_stay_booleans_and_the_reason_is_given():
    reporter = HealthReporter("svc", nc=None)

    async def fine():
        return True

    async def limping():
        return Degraded("poll restarting after OSError")

    reporter.add_check("nats", fine)
    reporter.add_check("background", limping)
    reporter.mark_ready()
    report = await reporter.report()

    assert report["status"] == "degraded"
    assert report["checks"] == {"nats": True, "background": False}
    assert report["degraded"] == {"background": "poll restarting after OSError"}


# --- Supervised: the loop around the schedule ------------------------------------------------------------------


async def test_supervised_when_the_task_fails_twice_then_it_runs_again_and_is_healthy_once_stable():
    runs = []
    running = asyncio.Event()

    async def flaky():
        runs.append(len(runs))
        if len(runs) <= 2:
            raise ConnectionResetError("peer reset")
        running.set()
        await asyncio.sleep(3600)

    policy = RestartPolicy(first_delay_s=0.01, max_delay_s=0.05, stable_after_s=0.2, give_up_after_s=60)
    task = Supervised("poll", flaky, policy, on_give_up=lambda *_: None)
    runner = asyncio.create_task(task.run())

    await asyncio.wait_for(running.wait(), 5)
    degraded_after_restart = task.health()
    await asyncio.sleep(0.3)
    healthy_later = task.health()
    runner.cancel()

    assert len(runs) == 3 and task.restarts == 2
    assert isinstance(degraded_after_restart, Degraded) and "ConnectionResetError: peer reset" in \
        degraded_after_restart.reason
    assert healthy_later is True


async def test_supervised_when_the_task_returns_then_it_is_restarted_too_but_not_once_stopping():
    runs = []

    async def returns():
        runs.append(1)

    policy = RestartPolicy(first_delay_s=0.01, max_delay_s=0.01, stable_after_s=1, give_up_after_s=60)
    task = Supervised("relay", returns, policy, on_give_up=lambda *_: None)
    runner = asyncio.create_task(task.run())
    while len(runs) < 3:
        await asyncio.sleep(0.005)
    task.stop()
    await asyncio.wait_for(runner, 1)  # ends by itself: not restarted after stop

    assert "must run until the service stops" in task.health().reason


# --- the service shell ---------------------------------------------------------------------------------------


def settings(nats_url, database_url):
    return ServiceSettings(nats_url=nats_url, database_url=database_url, shutdown_timeout_s=5)


@pytest.mark.integration
async def test_serve_when_a_task_keeps_failing_past_give_up_after_then_the_service_stops_and_says_it_gave_up(
    nats_url, database_url
):
    async def bootstrap(io):
        async def broken():
            raise RuntimeError("cannot work")

        return Wiring(background={"broken": broken})

    policy = RestartPolicy(first_delay_s=0.05, max_delay_s=0.1, stable_after_s=5, give_up_after_s=0.5)
    app = ServiceApp("svc-gives-up", settings(nats_url, database_url), bootstrap, restart_policy=policy)

    with pytest.raises(ServiceGaveUp, match="background task broken: failing for .* RuntimeError: cannot work"):
        await asyncio.wait_for(app.serve(), 10)


GIVES_UP = textwrap.dedent("""
    from tradebus_runtime.service import ServiceApp, Wiring
    from tradebus_runtime.settings import ServiceSettings
    from tradebus_runtime.supervision import RestartPolicy

    async def bootstrap(io):
        async def broken():
            raise RuntimeError("cannot work")
        return Wiring(background={"broken": broken})

    policy = RestartPolicy(first_delay_s=0.05, max_delay_s=0.1, stable_after_s=5, give_up_after_s=0.5)
    ServiceApp("svc-exits", ServiceSettings(), bootstrap, restart_policy=policy).run()
""")


@pytest.mark.integration
def test_run_when_the_service_gives_up_then_the_process_exits_non_zero_for_its_supervisor(nats_url, database_url):
    env = {**os.environ, "NATS_URL": nats_url, "DATABASE_URL": database_url}

    done = subprocess.run([sys.executable, "-c", GIVES_UP], env=env, capture_output=True, text=True, timeout=60)

    assert done.returncode == 1, done.stderr
    assert '"event": "service.gave_up"' in done.stdout + done.stderr



async def wait_for_report(nc, service, predicate, timeout=30.0):
    deadline = asyncio.get_running_loop().time() + timeout
    report = None
    while asyncio.get_running_loop().time() < deadline:
        report = await ask(nc, service)
        if report is not None and predicate(report):
            return report
        await asyncio.sleep(0.1)
    raise AssertionError(f"health never matched; last report: {report}")


@pytest.mark.integration
async def test_service_when_postgres_restarts_under_it_then_its_task_resumes_and_health_returns_to_ok(
    nats_url, own_postgres
):
    polls = []

    async def bootstrap(io):
        async def poll_forever():
            while True:
                polls.append(await io.pool.fetchval("SELECT count(*) FROM outbox"))
                await asyncio.sleep(0.05)

        return Wiring(background={"poll_forever": poll_forever})

    policy = RestartPolicy(first_delay_s=0.1, max_delay_s=0.5, stable_after_s=1.0, give_up_after_s=120)
    app = ServiceApp("svc-pg-restart", settings(nats_url, own_postgres.url()), bootstrap, restart_policy=policy)
    await app.start()
    nc = await nats.connect(nats_url)
    try:
        await wait_for_report(nc, "svc-pg-restart", lambda r: r["status"] == "ok")

        await asyncio.to_thread(own_postgres.stop)
        down = await wait_for_report(nc, "svc-pg-restart", lambda r: "background" in r["degraded"])
        await asyncio.to_thread(own_postgres.start)
        polls_before = len(polls)
        back = await wait_for_report(nc, "svc-pg-restart", lambda r: r["status"] == "ok")
    finally:
        await nc.close()
        await app.stop()

    assert down["status"] != "ok" and not down["checks"]["postgres"]
    assert down["degraded"]["background"].startswith("poll_forever ")  # failed / restarted, with the error
    assert back["checks"] == {"nats": True, "postgres": True, "consumers": True, "background": True}
    assert len(polls) > polls_before  # it polls again: restarted by the shell, not by an operator
    assert app.gave_up is None



@pytest.mark.integration
async def test_service_when_nats_restarts_under_it_then_its_consumer_resumes_and_health_returns_to_ok(
    own_nats, database_url, order_requested
):
    from tradebus_runtime.bus import ConsumerSpec
    from tradebus_runtime.service import Subscription

    seen = []

    async def bootstrap(io):
        async def handle(event, msg):
            seen.append(event.order_id)

        spec = ConsumerSpec(stream="ORDERS", durable="svc-nats-restart", filter_subjects=("orders.requested.*",))
        return Wiring(consumers=[Subscription(spec, handle)])

    async def after_seen() -> bool:
        return after.order_id in seen

    app = ServiceApp("svc-nats-restart", settings(own_nats.url, database_url), bootstrap)
    await app.start()
    before, after = order_requested(), order_requested()
    try:
        await app.connections.bus.publish(before)
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.02)
        await asyncio.to_thread(own_nats.stop)
        await asyncio.to_thread(own_nats.start)  # same port, same store
        nc = await nats.connect(own_nats.url)
        try:
            back = await wait_for_report(nc, "svc-nats-restart", lambda r: r["status"] == "ok")
            await nc.jetstream().publish("orders.requested.AAPL", (after.model_dump_json()).encode())
            await eventually(after_seen, "the order published after the restart", timeout=10)
        finally:
            await nc.close()
    finally:
        await app.stop()

    assert back["checks"]["nats"] and back["checks"]["consumers"]
    assert seen[0] == before.order_id and seen[-1] == after.order_id  # (an ack lost in the restart redelivers)
