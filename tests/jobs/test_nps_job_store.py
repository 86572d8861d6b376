"""The NPS job's use of the state store (table afterclose_nps_responses, the task ledger, the source
cursor), on SQLite and PostgreSQL (fixture ``store_url``, tests/conftest.py)."""

from __future__ import annotations

import datetime as dt

from connector.actions import ActionResult, CreateTask, Outcome
from connector.model import Cursor, NpsResponse, TaskRef, TaskSpec, TaskStatus
from jobs.core.ledger_view import EntryStatus
from jobs.core.nps import REFERRAL_ASK_TOUCH_POINT, nps_task_key
from jobs.nps import JOB
from jobs.nps_crm import TASK_PREFIXES
from jobs.state import NpsRecord, NpsStatus, open_store

UTC = dt.UTC
SCOPE = "hubspot:store-test"


def response(rid: str, score: int = 9, email: str | None = "ann@acme.example") -> NpsResponse:
    return NpsResponse(response_id=rid, email=email, score=score, responded_at=dt.datetime(2026, 3, 1, 9, tzinfo=UTC),
                       comment="ok", source="csv")


def ask(key: str) -> CreateTask:
    spec = TaskSpec(key=key, deal_id="1001", touch_point="nps_referral_ask_x", subject="Ask", body="",
                    due_at=dt.datetime(2026, 3, 4, 9, tzinfo=UTC), owner_id="7")
    return CreateTask(spec=spec, reason="promoter")


def test_given_responses_committed_then_statuses_reasons_attempts_and_cursor_are_kept(store_url):
    with open_store(store_url) as store:
        run = store.start_run(SCOPE, JOB)
        records = [NpsRecord(response=response("r1"), status=NpsStatus.MATCHED, account_id="2001"),
                   NpsRecord(response=response("r2", email="who@nowhere.example"), status=NpsStatus.UNMATCHED,
                             reason="no CRM contact has the email 'who@nowhere.example'")]
        since = dt.datetime(2026, 3, 1, 9, tzinfo=UTC)
        store.commit_nps(SCOPE, run, [], records, Cursor(modified=since))
        assert store.nps_statuses(SCOPE, ["r1", "r2", "r3"]) == {"r1": NpsStatus.MATCHED, "r2": NpsStatus.UNMATCHED}
        [retry] = store.nps_to_retry(SCOPE)
        assert retry.response == records[1].response and retry.reason.startswith("no CRM contact")
        assert [s.response.response_id for s in store.nps_history(SCOPE, ["2001"])] == ["r1"]
        assert store.get_cursor(SCOPE, JOB).modified == since

        store.commit_nps(SCOPE, run, [], [NpsRecord(response=response("r2", email="who@nowhere.example"),
                                                    status=NpsStatus.MATCHED, account_id="2002")], None)
        [again] = [s for s in store.nps_responses(SCOPE) if s.response.response_id == "r2"]
        assert (again.status, again.account_id, again.reason, again.attempts) == (NpsStatus.MATCHED, "2002", None, 2)
        assert again.first_seen <= again.last_seen
        assert store.nps_to_retry(SCOPE) == [] and store.get_cursor(SCOPE, JOB).modified == since


def test_given_nps_tasks_made_and_learnt_completed_then_ledger_lists_them_by_touch_point(store_url):
    key = nps_task_key("hubspot", "2001", REFERRAL_ASK_TOUCH_POINT, "r1")
    with open_store(store_url) as store:
        run = store.start_run(SCOPE, JOB)
        made = ActionResult(action=ask(key), outcome=Outcome.CREATED, crm_id="t-1")
        store.commit_nps(SCOPE, run, [made], [], None)
        [entry] = store.ledger_for_touch_points(SCOPE, TASK_PREFIXES).values()
        assert (entry.key, entry.status, entry.crm_id) == (key, EntryStatus.OPEN, "t-1")
        assert store.ledger_for_touch_points(SCOPE, ["nps_checkin_"]) == {}  # the sync job's NPS call is not one

        done = TaskRef(key=key, crm_id="t-1", deal_id="1001", status=TaskStatus.COMPLETED)
        store.commit_nps(SCOPE, run, [], [], None, learned=[done])
        assert store.ledger_for_touch_points(SCOPE, TASK_PREFIXES)[key].status is EntryStatus.COMPLETED
        assert store.rejected(SCOPE) == []  # NPS refusals live on their responses, not in the sync retry list


def test_given_rows_a_source_could_not_use_then_kept_until_a_fetch_that_read_the_source_says_otherwise(store_url):
    from connector.nps import RejectedRow

    bad = [RejectedRow(source="/exports/a.csv", line=4, reason="score 'eleven' is not a whole number 0-10", raw="x"),
           RejectedRow(source="/exports/b.csv", line=None, reason="the file is empty (no header row)", raw="")]
    with open_store(store_url) as store:
        first = store.start_run(SCOPE, JOB)
        store.commit_nps(SCOPE, first, [], [], None, source_rejected=bad)
        kept = store.nps_source_rejects(SCOPE)
        assert [(r.source, r.line, r.reason, r.run_id) for r in kept] == [
            ("/exports/a.csv", 4, bad[0].reason, first), ("/exports/b.csv", None, bad[1].reason, first)]
        assert store.nps_source_rejects("salesforce:other") == []

        failed = store.start_run(SCOPE, JOB)  # the source could not be read at all: nothing is known
        store.commit_nps(SCOPE, failed, [], [], None, source_rejected=None)
        assert [r.run_id for r in store.nps_source_rejects(SCOPE)] == [first, first]

        fixed = store.start_run(SCOPE, JOB)  # read again, every row fine now
        store.commit_nps(SCOPE, fixed, [], [], None, source_rejected=[])
        assert store.nps_source_rejects(SCOPE) == []
