"""The PostgreSQL run lock when its connection goes away: an idle-session timeout, a NAT or a
pooler dropping an idle connection, a failover, an operator's ``pg_terminate_backend``.

The lock is a session advisory lock held on a connection of its own, idle for the whole run. What a
user would notice if that were all: the server ends the idle session, the lock goes with it, a
second run starts while the first is still writing, and both record pages over each other. Now
the lock connection is kept busy (it survives an idle timeout), and every state transaction of the
run checks that the lock is still held by that very session, so a run that lost it records
nothing more and stops (exit 4).
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from connector.errors import LockHeldError
from connector.sandbox.demo import scaled_dataset
from jobs.cli.exits import ExitCode, exit_code_of
from jobs.core.playbook import DEFAULT_PLAYBOOK
from jobs.state import StateStore, open_store
from jobs.state.engine import advisory_key
from jobs.sync import JOB, SyncJob, run_sync
from tests.reliability import figures
from tests.reliability.crm import ANCHOR, NOW, open_crm
from tests.reliability.runs import run_here, scope_of

pytestmark = pytest.mark.postgres


class _Commits:
    """The store, with a hook after each page commit that succeeded."""

    def __init__(self, store: StateStore, after_commit):
        self._store, self._after = store, after_commit
        self.done = 0

    def __getattr__(self, name):
        return getattr(self._store, name)

    def commit_page(self, *args, **kwargs):
        self._store.commit_page(*args, **kwargs)
        self.done += 1
        self._after(self.done)


def _lock_backend(admin, schema: str, scope: str) -> int | None:
    """The backend pid holding the run lock of ``scope`` (its key is split into two 32-bit halves)."""
    key = advisory_key(schema, scope) & 0xFFFF_FFFF_FFFF_FFFF
    return admin.execute(text(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
        "AND classid = CAST(:hi AS oid) AND objid = CAST(:lo AS oid)"), {"hi": key >> 32, "lo": key & 0xFFFF_FFFF}
    ).scalar()


def _schema_of(url: str) -> str:
    return make_url(url).query["options"].split("search_path=", 1)[1].split()[0]


def _sync(crm, store, adapter) -> None:
    run_sync(SyncJob(scope=scope_of(crm), adapter=adapter, store=store, fieldmap=crm.fieldmap,
                     playbook=DEFAULT_PLAYBOOK, clock=lambda: NOW))


@pytest.mark.parametrize("provider", ["hubspot", "salesforce"])
def test_given_the_lock_backend_is_terminated_mid_run_then_the_run_records_nothing_more_and_stops_exit_4(
        provider, pg_url):
    admin = create_engine(pg_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    schema = _schema_of(pg_url)
    terminated_after: list[int] = []
    with open_crm(provider, scaled_dataset(80, anchor=ANCHOR, seed=5), page_size=20) as crm:

        def terminate_after_first_page(done: int) -> None:
            if done == 1:
                with admin.connect() as conn:
                    pid = _lock_backend(conn, schema, scope_of(crm))
                    assert pid is not None, "no backend holds the run lock"
                    conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                    while conn.execute(text("SELECT 1 FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}).first():
                        time.sleep(0.01)
                terminated_after.append(done)

        with open_store(pg_url) as real, crm.adapter() as adapter:
            store = _Commits(real, terminate_after_first_page)
            with pytest.raises(Exception) as raised:
                _sync(crm, store, adapter)
            cursor_after = real.get_cursor(scope_of(crm), JOB)
            (run,) = real.recent_runs(scope_of(crm))
        # A later run takes the lock and finishes what was not recorded; nothing is doubled.
        again = run_here(crm, pg_url)
        final = crm.snapshot()
    admin.dispose()
    figures.record("lock_loss", provider=provider, kind="pg_terminate_backend", pages_after_loss=store.done - 1)
    assert terminated_after == [1]
    assert store.done == 1, f"{store.done - 1} page(s) were recorded after the lock was lost"
    assert "lock" in str(raised.value) and "lost" in str(raised.value)
    assert exit_code_of(raised.value) == ExitCode.FAILED
    assert run.outcome == "failed" and "lost" in (run.error or "")
    assert cursor_after is not None  # the first page, recorded while the lock was held
    assert again.deals_seen > 0 and final.duplicates == 0


@pytest.mark.parametrize("provider", ["hubspot", "salesforce"])
def test_given_an_idle_session_timeout_shorter_than_a_run_then_the_lock_survives_and_a_second_run_is_refused(
        provider, pg_url):
    url = make_url(pg_url)
    timeout_url = url.update_query_dict(
        {"options": f"{url.query['options']} -c idle_session_timeout=1500ms"}).render_as_string(hide_password=False)
    refused: list[str] = []
    with open_crm(provider, scaled_dataset(80, anchor=ANCHOR, seed=5), page_size=20) as crm:

        def second_run_meanwhile(done: int) -> None:
            if done == 2:
                time.sleep(2.5)  # the lock's connection has been idle for longer than the timeout
                with open_store(timeout_url) as other:
                    try:
                        with other.lock(scope_of(crm)):
                            refused.append("not refused: two runs at once")
                    except LockHeldError as exc:
                        refused.append(str(exc))

        with open_store(timeout_url) as real, crm.adapter() as adapter:
            store = _Commits(real, second_run_meanwhile)
            _sync(crm, store, adapter)
            (run,) = real.recent_runs(scope_of(crm))
    figures.record("lock_loss", provider=provider, kind="idle_session_timeout 1500ms", survived=run.outcome != "failed")
    assert refused and "not refused" not in refused[0], refused
    assert run.outcome in ("ok", "rejected"), run.error


def test_lock_heartbeat_thread_is_gone_once_released(pg_url):
    with open_store(pg_url) as store:
        before = {t.name for t in threading.enumerate()}
        with store.lock("hubspot:portal-1"):
            pass
        assert {t.name for t in threading.enumerate()} <= before
