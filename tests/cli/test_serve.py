"""`afterclose serve`: schedules, /healthz, /metrics, SIGTERM, and one run per tick across replicas."""

from __future__ import annotations

import datetime as dt
import json
import signal
import socket
import threading
import time

import httpx
import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger

from jobs.serve.schedule import FireTimeExecutor, Health, Ticker, health_app, last_finished_runs
from jobs.state import RunOutcome, RunSummary, open_store
from tests.cli.conftest import start_cli

YEARLY = '[schedule]\nsync = "0 0 1 1 *"\n'
"""A schedule that never fires during a test: `--run-now` makes the one run."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_config(crm, port: int):
    return crm.config(f'{YEARLY}[server]\nport = {port}\n[log]\nformat = "json"\n')


def wait_until(predicate, timeout: float = 30, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def get(port: int, path: str) -> httpx.Response | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2)
    except httpx.TransportError:
        return None


def events(stderr: str) -> list[dict]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def test_given_serve_run_now_then_healthz_ok_metrics_count_the_run_and_sigterm_exits_0(hubspot):
    from tests.cli.conftest import invoke

    port = free_port()
    config = serve_config(hubspot, port)
    assert invoke("setup", "--config", config).exit_code == 0
    server = start_cli("serve", "--config", config, "--run-now")
    try:
        health = wait_until(lambda: (r := get(port, "/healthz")) is not None and r.json()["last_runs"] and r,
                            what="the first run to be recorded")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        assert health.json()["last_runs"]["sync"]["outcome"] == "rejected"  # the inactive owner's tasks
        metrics = get(port, "/metrics").text
        assert 'afterclose_runs_total{job="sync",outcome="rejected"} 1.0' in metrics
        assert 'afterclose_records_total{job="sync",outcome="created"}' in metrics
        assert 'afterclose_api_calls_total{endpoint="POST /crm/v3/objects/tasks/batch/create"}' in metrics
        assert "afterclose_rate_limit_wait_seconds_total" in metrics
        assert 'afterclose_last_success_timestamp_seconds{job="sync"}' in metrics
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=20)
    finally:
        if server.poll() is None:
            server.kill()
    assert server.returncode == 0, err
    names = [e["event"] for e in events(err)]
    assert names.index("serving") < names.index("run_finished") < names.index("stopping") < names.index("stopped")


def test_given_sigterm_during_a_run_then_current_page_finished_and_recorded_then_exit_0(open_crm):
    org = open_crm("salesforce", page_size=5, latency=0.05)  # 36 won deals in pages of 5: a run of seconds
    port = free_port()
    config = serve_config(org, port)
    server = start_cli("serve", "--config", config, "--run-now")
    try:
        with open_store(org.state_url) as store:
            wait_until(lambda: (org.tmp / "state.db").exists() and store.get_cursor(org.scope, "sync"),
                       what="the first page to be recorded")
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
    assert server.returncode == 0, err
    finished = next(e for e in events(err) if e["event"] == "run_finished")
    assert finished["stopped_early"] is True and 0 < finished["deals"] < 36
    with open_store(org.state_url) as store:
        (run,) = store.recent_runs()
        assert run.outcome in (RunOutcome.OK, RunOutcome.REJECTED) and run.finished_at is not None
        assert sum(run.counts.values()) > 0


# -- /healthz ---------------------------------------------------------------------------------------

NOW = dt.datetime.now(dt.UTC)


def _run(job: str, outcome: RunOutcome, finished: dt.datetime, error: str | None = None) -> RunSummary:
    return RunSummary(id=7, scope="s", job=job, dry_run=False, host="h", pid=1, started_at=finished, finished_at=finished,
                      outcome=outcome, counts={}, api_calls=0, api_calls_by_endpoint={}, error=error)


@pytest.mark.parametrize("last, started_ago, problem", [
    ({"sync": _run("sync", RunOutcome.OK, NOW)}, 0, None),
    ({"sync": _run("sync", RunOutcome.REJECTED, NOW)}, 0, None),
    ({"sync": _run("sync", RunOutcome.FAILED, NOW, "CRM answered 503")}, 0, "last sync run (7) failed: CRM answered 503"),
    ({"sync": _run("sync", RunOutcome.OK, NOW - dt.timedelta(hours=2))}, 0, "sync run overdue"),
    ({}, 10, None),
    ({}, 7200, "sync run overdue"),
])
def test_health_fails_when_last_run_failed_or_is_overdue(last, started_ago, problem):
    health = Health(overdue_after={"sync": dt.timedelta(minutes=35)}, last_runs=lambda: last,
                    started_at=NOW - dt.timedelta(seconds=started_ago))
    problems, _ = health.problems(dt.datetime.now(dt.UTC))
    assert [p for p in problems if problem in p] if problem else problems == []


def test_healthz_answers_503_with_the_problems_and_200_when_healthy():
    from connector.sandbox.server import serve_in_thread

    last = {"sync": _run("sync", RunOutcome.FAILED, NOW, "CRM answered 503")}
    health = Health(overdue_after={"sync": dt.timedelta(minutes=35)}, last_runs=lambda: last)
    with serve_in_thread(health_app(health)) as server:
        failing = httpx.get(f"{server.base_url}/healthz")
        last["sync"] = _run("sync", RunOutcome.OK, NOW)
        healthy = httpx.get(f"{server.base_url}/healthz")
    assert failing.status_code == 503 and failing.json()["status"] == "fail"
    assert healthy.status_code == 200 and healthy.json() == {
        "status": "ok", "problems": [], "last_runs": {"sync": {"run": 7, "outcome": "ok",
                                                                "finished_at": NOW.isoformat()}}}


# -- one run per tick across replicas --------------------------------------------------------------


def test_given_two_replicas_sharing_the_store_when_a_tick_fires_then_it_runs_once(store_url):
    """Two schedulers (two replicas) with the same tick; each claims the *scheduled* fire time."""
    fire_at = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)).replace(microsecond=0)
    ran, outcomes, seen_times = [], [], []
    done = threading.Barrier(3, timeout=20)

    def execute(job, claim):
        if not claim("hubspot:shared"):  # the scope, once the job knows which CRM account it is for
            return _Claimed()
        ran.append(job)
        time.sleep(0.3)  # a run in progress while the other replica's tick arrives
        return _Result()

    replicas = []
    for _ in range(2):
        store = open_store(store_url)
        ticker = Ticker(scope="hubspot:shared", store=store, execute=execute, stop=threading.Event())

        def tick(job, scheduled_run_time=None, ticker=ticker):
            seen_times.append(scheduled_run_time)
            outcomes.append(ticker(job, scheduled_run_time))
            done.wait()

        scheduler = BackgroundScheduler(executors={"default": FireTimeExecutor(max_workers=2)})
        scheduler.add_job(tick, DateTrigger(run_date=fire_at), args=["sync"], coalesce=True, max_instances=1,
                          misfire_grace_time=30)
        replicas.append((scheduler, store))
    try:
        for scheduler, _ in replicas:
            scheduler.start()
        done.wait()
    finally:
        for scheduler, store in replicas:
            scheduler.shutdown(wait=True)
            store.close()
    assert ran == ["sync"]
    assert sorted(outcomes) == ["claimed_elsewhere", "ok"]
    assert seen_times == [fire_at, fire_at]  # the scheduled time, not when each replica got to it


class _Result:
    outcome = "ok"
    outcomes: dict = {}
    calls = None


class _Claimed(_Result):
    outcome = "claimed_elsewhere"


def test_given_a_tick_fails_before_recording_a_run_then_healthz_reports_it_until_a_run_succeeds(tmp_path):
    from connector.errors import SchemaError

    health = Health(overdue_after={"sync": dt.timedelta(minutes=35)}, last_runs=dict)
    outcomes = iter([SchemaError(["deal_stage -> dealstage: property does not exist"]), _Result()])

    def execute(job, claim):
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    with open_store(f"sqlite:///{tmp_path / 'state.db'}") as store:
        ticker = Ticker(scope="hubspot:x", store=store, execute=execute, stop=threading.Event(), health=health)
        assert ticker("sync", NOW) == "failed"
        problems, _ = health.problems(dt.datetime.now(dt.UTC))
        assert len(problems) == 1 and "last sync tick failed" in problems[0] and "dealstage" in problems[0]
        assert ticker("sync", NOW + dt.timedelta(minutes=15)) == "ok"
    assert health.problems(dt.datetime.now(dt.UTC))[0] == []


# -- jobs that share a tick, and ticks that fail or miss ---------------------------------------------


def _fire_together(ticker, jobs, fire_at) -> dict:
    """Both jobs scheduled for the same instant, in one scheduler (one `serve` process)."""
    outcomes: dict[str, str] = {}
    done = threading.Barrier(len(jobs) + 1, timeout=30)

    def tick(job, scheduled_run_time=None):
        outcomes[job] = ticker(job, scheduled_run_time)
        done.wait()

    scheduler = BackgroundScheduler(executors={"default": FireTimeExecutor(max_workers=4)})
    for job in jobs:
        scheduler.add_job(tick, DateTrigger(run_date=fire_at), args=[job], id=job, coalesce=True, max_instances=1,
                          misfire_grace_time=30)
    scheduler.start()
    try:
        done.wait()
    finally:
        scheduler.shutdown(wait=True)
    return outcomes


def test_given_sync_and_nps_due_on_the_same_tick_then_both_run_one_after_the_other(store_url):
    """06:00: the 15-minute sync and the daily NPS job fire together; both take the scope's run lock."""
    scope = "hubspot:portal-1"
    spans: list[tuple[str, float, float]] = []
    with open_store(store_url) as store:
        def execute(job, claim=None):
            with store.lock(scope):  # as run_sync and run_nps do
                start = time.monotonic()
                time.sleep(0.3)
                spans.append((job, start, time.monotonic()))
            return _Result()

        ticker = Ticker(scope=scope, store=store, execute=execute, stop=threading.Event())
        fire_at = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)).replace(microsecond=0)
        outcomes = _fire_together(ticker, ["sync", "nps"], fire_at)
    assert outcomes == {"sync": "ok", "nps": "ok"}
    (first, a, b), (second, c, d) = sorted(spans, key=lambda span: span[1])
    assert {first, second} == {"sync", "nps"} and b <= c  # one after the other, never at once


def test_given_a_run_elsewhere_holds_the_lock_when_a_tick_fires_then_it_waits_and_runs_after_it(store_url):
    scope = "hubspot:portal-1"
    ran: list[str] = []
    with open_store(store_url) as store, open_store(store_url) as manual:
        def execute(job, claim=None):
            with store.lock(scope):
                ran.append(job)
            return _Result()

        ticker = Ticker(scope=scope, store=store, execute=execute, stop=threading.Event(), lock_retry_seconds=0.1,
                        wait_limit={"nps": dt.timedelta(minutes=5)})
        release = threading.Timer(0.8, lambda: held.__exit__(None, None, None))
        held = manual.lock(scope)  # an `afterclose run` someone started by hand
        held.__enter__()
        release.start()
        outcome = ticker("nps", dt.datetime.now(dt.UTC))
        release.join()
    assert outcome == "ok" and ran == ["nps"]


def test_given_the_lock_is_held_past_the_wait_limit_then_the_tick_is_missed_recorded_and_healthz_flags_it(store_url):
    scope = "hubspot:portal-1"
    with open_store(store_url) as store, open_store(store_url) as manual, manual.lock(scope):
        def execute(job, claim=None):
            with store.lock(scope):
                raise AssertionError("ran while another run held the lock")

        ticker = Ticker(scope=scope, store=store, execute=execute, stop=threading.Event(), lock_retry_seconds=0.1,
                        wait_limit={"nps": dt.timedelta(seconds=0.5)})
        outcome = ticker("nps", dt.datetime.now(dt.UTC))
        (recorded,) = store.recent_runs(scope)
        health = Health(overdue_after={"nps": dt.timedelta(days=2)},
                        last_runs=lambda: last_finished_runs(store, scope, ["nps"]))
        problems, _ = health.problems(dt.datetime.now(dt.UTC))
    assert outcome == "missed"
    assert recorded.job == "nps" and recorded.outcome == "missed" and "lock" in recorded.error
    assert len(problems) == 1 and "nps" in problems[0] and "missed" in problems[0]


def test_given_a_scheduled_run_fails_preflight_then_status_shows_it_and_healthz_after_a_restart_reports_it(hubspot):
    from tests.cli.conftest import invoke

    port = free_port()
    config = hubspot.config(f'{YEARLY}[server]\nport = {port}\n[log]\nformat = "json"\n', token="revoked-token")
    server = start_cli("serve", "--config", config, "--run-now")
    try:
        wait_until(lambda: (r := get(port, "/healthz")) is not None and r.status_code == 503, what="the failed tick")
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=20)
    finally:
        if server.poll() is None:
            server.kill()
    status = json.loads(invoke("status", "--config", config, "--format", "json").stdout)
    (attempt,) = status["runs"]
    assert attempt["job"] == "sync" and attempt["outcome"] == "failed" and "refused the credentials" in attempt["error"]
    assert "revoked-token" not in json.dumps(status)
    restarted = start_cli("serve", "--config", config)  # no --run-now: nothing runs before the check
    try:
        health = wait_until(lambda: get(port, "/healthz"), what="the restarted server")
        assert health.status_code == 503, health.text
        assert "refused the credentials" in " ".join(health.json()["problems"])
    finally:
        restarted.send_signal(signal.SIGTERM)
        restarted.communicate(timeout=20)
