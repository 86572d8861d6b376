"""The NPS job: survey responses -> customers in the CRM -> write-backs, referral status, tasks.

The shell around the pure core (jobs/core/nps.py). One run, in this order:

1. **fetch** the source from its cursor (job ``"nps"`` in the state store). A source that answers
   garbage (``SourceError``) is stopped with its error in the report and its cursor kept; the run
   still retries stored responses and moves referral statuses along. A CSV that does not fit the
   configured columns (``ConfigError``) stops the run before anything is written (exit 2).
2. **select** what to look at: responses never seen (by ``response_id``), plus stored ones not
   yet written back (unmatched: the contact may exist now; or refused by the CRM).
3. **read the CRM** in batches (``connector.port.SupportsNps``): contacts by email, their
   accounts with won deals and current values, won deals naming a referrer, and the status of
   the open referral-ask tasks (``find_tasks``: a rep ticking one off moves the account to
   ``asked``). Accounts already matched before bring their stored responses along, which the
   ``latest``/``average`` policy weighs.
4. **decide** (pure): ``nps_core.match`` then ``nps_core.plan_nps``. ``dry_run`` stops here:
   ``afterclose plan`` prints this plan and nothing is written anywhere.
5. **apply**: tasks whose key is already in the CRM are adopted, not sent (so a lost state store
   never reopens a finished task); the rest go through ``adapter.apply`` in batches.
6. **record**, in one store transaction: run records, task ledger, each response's status
   (matched / unmatched + reason / rejected + the CRM's message) and the source cursor.

A crash between 5 and 6 repeats the run's work next time: values then equal the CRM's (no
write) and task keys are found in the CRM (no second task).
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from connector.actions import Action, ActionResult, CreateTask, Outcome, Skip, UpdateRecord
from connector.errors import ConfigError, SchemaError
from connector.mapping import FieldMap
from connector.model import Cursor, NpsResponse, RecordKind, TaskRef
from connector.nps import NpsSource, RejectedRow, SourceBatch, SourceCursor, SourceError, build_source
from connector.port import (
    CrmAdapter,
    SupportsCreateJournal,
    SupportsNativeNps,
    SupportsNps,
    SupportsRecordIds,
    SupportsTasksOnDeals,
)
from jobs import logs
from jobs.core.nps import (
    MatchedResponse,
    NpsPolicy,
    UnmatchedResponse,
    match,
    plan_nps,
)
from jobs.nps_crm import CrmView, NpsReads, account_of_key, read_crm
from jobs.outcomes import tally
from jobs.playbooks import build_playbook
from jobs.schema_fit import Skipped, fit, skipped_counts, skipped_note
from jobs.state import NpsRecord, NpsStatus, RunOutcome, StateStore
from jobs.state.intents import StoreJournal

log = logs.get_logger("afterclose.nps")

JOB = "nps"
DEMO_CSV_COLUMNS = ("response_id", "email", "score", "responded_at", "comment")


@dataclass(frozen=True, kw_only=True)
class NpsJob:
    """Everything one NPS run needs; built by ``build_nps_job`` (CLI, scheduler) or by hand (tests,
    demo) with an explicit ``source``."""

    scope: str
    adapter: CrmAdapter
    store: StateStore
    fieldmap: FieldMap
    source: NpsSource
    clock: Callable[[], dt.datetime]
    policy: NpsPolicy = NpsPolicy()
    check_schema: bool = True
    """False when the caller checked the mapping against the live CRM already (the CLI does)."""
    skipped: tuple[Skipped, ...] = ()
    """Optional write-back targets the caller's check found unfit (left out of ``fieldmap``)."""

    def __post_init__(self) -> None:
        if not isinstance(self.adapter, SupportsNps):
            raise ConfigError(f"the {self.adapter.provider} adapter cannot read what the NPS job needs "
                              "(connector.port.SupportsNps)", key="nps.source")


@dataclass(kw_only=True)
class NpsReport:
    run_id: int | None
    dry_run: bool
    source: str
    responses_read: int = 0
    """Valid responses the source returned this run."""
    new_responses: int = 0
    """Of those, never seen before."""
    retried: int = 0
    """Stored responses looked at again (unmatched or refused before)."""
    plan_actions: list[Action] = field(default_factory=list)
    outcomes: Counter = field(default_factory=Counter)
    rejected: list[ActionResult] = field(default_factory=list)
    unmatched: list[UnmatchedResponse] = field(default_factory=list)
    source_rejected: list[RejectedRow] = field(default_factory=list)
    """Rows the source could not import (file, line, reason): to fix at the source."""
    source_error: str | None = None
    """Why the source was stopped this run (its cursor is kept)."""
    skipped: tuple[Skipped, ...] = ()
    """Optional write-back targets this run left out, and why (kept with the run; `status`)."""

    @property
    def exit_code(self) -> int:
        """As for sync: 1 when the CRM refused records, the source could not be read, or it held
        rows that could not be used (a person must fix them), else 0 (config, credential and lock
        problems raise and exit 2 and 3 in the CLI)."""
        return 1 if self.rejected or self.source_error or self.source_rejected else 0


def build_nps_job(settings, adapter: CrmAdapter, store: StateStore, fieldmap: FieldMap, scope: str,
                  clock: Callable[[], dt.datetime], *, check_schema: bool = True,
                  skipped: tuple[Skipped, ...] = ()) -> NpsJob | None:
    """The NPS job ``settings`` ask for (``settings``: ``jobs.config.Settings``); None when
    ``[nps] source = "none"``."""
    config = settings.nps_source_config()
    if config.kind == "none":
        return None
    native = adapter.nps_native_source() if isinstance(adapter, SupportsNativeNps) else None
    source = build_source(config, retry=settings.retry,
                          hubspot_native=native if config.kind == "hubspot-native" else None)
    return NpsJob(scope=scope, adapter=adapter, store=store, fieldmap=fieldmap, source=source, clock=clock,
                  policy=NpsPolicy(playbook=build_playbook(settings)), check_schema=check_schema, skipped=skipped)


def run_nps(job: NpsJob, dry_run: bool = False) -> NpsReport:
    """One pass. ``dry_run`` reads the source and the CRM, makes no write call, stores nothing."""
    if job.check_schema:
        found = fit(job.adapter.check_schema(), job.fieldmap, JOB)
        if found.blocking:
            raise SchemaError([str(p) for p in found.blocking], source=job.fieldmap.source)
        job = replace(job, fieldmap=found.fieldmap, skipped=found.skipped, check_schema=False)
    if dry_run:
        return _run(job, None)
    with job.store.lock(job.scope):
        run_id = job.store.start_run(job.scope, JOB, dry_run=False)
        if isinstance(job.adapter, SupportsCreateJournal):
            job.adapter.use_journal(StoreJournal(job.store, job.scope, run_id))
        try:
            report = _run(job, run_id)
        except BaseException as exc:
            job.store.finish_run(run_id, RunOutcome.FAILED, {}, job.adapter.call_stats(), error=str(exc))
            raise
        outcome = (RunOutcome.FAILED if report.source_error else
                   RunOutcome.REJECTED if report.rejected or report.source_rejected else RunOutcome.OK)
        note = "; ".join(n for n in (report.source_error, skipped_note(job.skipped)) if n) or None
        job.store.finish_run(run_id, outcome, dict(report.outcomes) | skipped_counts(job.skipped),
                             job.adapter.call_stats(), error=note)
        return report


# -- one run ---------------------------------------------------------------------------------------


def _run(job: NpsJob, run_id: int | None) -> NpsReport:
    report = NpsReport(run_id=run_id, dry_run=run_id is None, source=job.source.name, skipped=job.skipped)
    now = job.clock()
    batch = _fetch(job, report)
    responses = _to_look_at(job, batch, report)
    crm = read_crm(_reads(job), responses)
    result = match(responses, crm.contacts, crm.accounts_with_won_deals)
    report.unmatched = list(result.unmatched)
    for item in result.unmatched:
        log.info("nps_unmatched", response_id=item.response.response_id, reason=item.reason)
    history = _history(job, result.matched, {r.response_id for r in responses})
    report.plan_actions = plan_nps([*result.matched, *history], crm.snapshot, job.fieldmap, job.policy, now)
    if report.dry_run:
        return report
    results, adopted = _apply(job, report.plan_actions, run_id)
    _count(report, results)
    refused = _refused_accounts(results, crm)
    records = _records(result.matched, result.unmatched, refused)
    learned = [ref for ref in [*crm.completed_asks, *adopted] if account_of_key(ref.key) not in refused]
    cursor = Cursor(modified=batch.cursor.since) if batch is not None and batch.cursor is not None else None
    assert run_id is not None
    job.store.commit_nps(job.scope, run_id, results, records, cursor, learned=learned,
                         source_rejected=report.source_rejected if batch is not None else None)
    return report


def _fetch(job: NpsJob, report: NpsReport) -> SourceBatch | None:
    stored = job.store.get_cursor(job.scope, JOB)
    since = SourceCursor(since=stored.modified) if stored else None
    try:
        batch = job.source.fetch(since)
    except SourceError as exc:
        report.source_error = str(exc)
        log.error("nps_source_failed", source=job.source.name, error=str(exc),
                  detail="source stopped for this run; its cursor is kept")
        return None
    report.responses_read = len(batch.responses)
    report.source_rejected = list(batch.rejected)
    for row in batch.rejected:
        log.warning("nps_row_rejected", where=row.describe())
    return batch


def _to_look_at(job: NpsJob, batch: SourceBatch | None, report: NpsReport) -> list[NpsResponse]:
    """New responses, then stored ones still to write back (each once, by response id)."""
    fresh = _with_crm_ids(job, batch.responses) if batch else []
    seen = job.store.nps_statuses(job.scope, [r.response_id for r in fresh])
    new = [r for r in fresh if r.response_id not in seen]
    again = _with_crm_ids(job, [s.response for s in job.store.nps_to_retry(job.scope)])
    report.new_responses, report.retried = len(new), len(again)
    return list({r.response_id: r for r in [*again, *new]}.values())


def _with_crm_ids(job: NpsJob, responses: Sequence[NpsResponse]) -> list[NpsResponse]:
    """Account ids in the form the CRM answers with: a survey export may hold Salesforce's
    15-character ids (the UI's), the API answers with 18 (connector.port.SupportsRecordIds)."""
    adapter = job.adapter
    if not isinstance(adapter, SupportsRecordIds):
        return list(responses)
    return [replace(r, account_id=adapter.record_id(r.account_id)) if r.account_id else r
            for r in responses]


def _history(job: NpsJob, matched: Sequence[MatchedResponse], current: set[str]) -> list[MatchedResponse]:
    """Earlier responses of the accounts matched now: the latest one may be an older response,
    and the ``average`` policy needs them all."""
    accounts = {m.account.id: m.account for m in matched}
    if not accounts:
        return []
    return [MatchedResponse(response=s.response, account=accounts[s.account_id], contact=None, via="account_id")
            for s in job.store.nps_history(job.scope, accounts)
            if s.response.response_id not in current and s.account_id in accounts]


# -- reading the CRM -------------------------------------------------------------------------------


# -- applying and recording ------------------------------------------------------------------------


def _apply(job: NpsJob, actions: Sequence[Action], run_id: int | None) -> tuple[list[ActionResult], list[TaskRef]]:
    """Carry out the plan. Tasks whose key the CRM already holds are adopted as they are (their
    CRM status is learnt); skips are recorded so the same response is not weighed again."""
    creates = [a for a in actions if isinstance(a, CreateTask)]
    existing = _existing_tasks(job, creates, run_id) if creates else {}
    to_send = [a for a in actions if not isinstance(a, Skip) and not (isinstance(a, CreateTask) and a.key in existing)]
    sent = iter(job.adapter.apply(to_send) if to_send else [])
    results: list[ActionResult] = []
    adopted: list[TaskRef] = []
    for action in actions:
        if isinstance(action, Skip):
            results.append(ActionResult(action=action, outcome=Outcome.SKIPPED, message=action.reason))
        elif isinstance(action, CreateTask) and action.key in existing:
            ref = existing[action.key]
            adopted.append(replace(ref, deal_id=ref.deal_id or action.deal_id))
            results.append(ActionResult(action=action, outcome=Outcome.UNCHANGED, crm_id=ref.crm_id,
                                        message="a task with this key already exists in the CRM"))
        else:
            results.append(next(sent))
    return results, adopted


def _existing_tasks(job: NpsJob, creates: Sequence[CreateTask], run_id: int | None) -> dict[str, TaskRef]:
    """Tasks already in the CRM for these creates. Where a key alone cannot be looked up without
    the search index (HubSpot without unique task keys), they are read on their deals; reads are
    settled at once unless this store has no earlier run (new, or lost: then a task made moments
    before the loss may not show yet, and the adapter waits ``settle_seconds``)."""
    if not isinstance(job.adapter, SupportsTasksOnDeals):
        return job.adapter.find_tasks([a.key for a in creates])
    earlier = [r for r in job.store.recent_runs(job.scope, 2) if r.id != run_id]
    return job.adapter.find_tasks_on_deals({a.key: a.deal_id for a in creates},
                                           quiet_seconds=float("inf") if earlier else 0.0)


def _count(report: NpsReport, results: Sequence[ActionResult]) -> None:
    tally(results, report.outcomes, report.rejected)


def _refused_accounts(results: Sequence[ActionResult], crm: CrmView) -> dict[str, str]:
    """Account id -> the CRM's message, for accounts with a refused write (retried next run)."""
    refused: dict[str, str] = {}
    for r in results:
        if r.rejected and (account_id := _account_of_action(r.action, crm)):
            refused.setdefault(account_id, f"{r.action.kind.value} refused by the CRM: {r.message} "
                                           f"[{r.error_code or 'no code'}]")
    return refused


def _account_of_action(action: Action, crm: CrmView) -> str | None:
    if isinstance(action, CreateTask):
        return action.spec.company_id or account_of_key(action.key)
    if isinstance(action, UpdateRecord):
        if action.update.kind is RecordKind.COMPANY:
            return action.update.record_id
        return crm.deal_account.get(action.update.record_id)
    return crm.deal_account.get(action.deal_id)


def _records(matched: Sequence[MatchedResponse], unmatched: Sequence[UnmatchedResponse],
             refused: dict[str, str]) -> list[NpsRecord]:
    records = [
        NpsRecord(response=m.response, account_id=m.account.id,
                  status=NpsStatus.REJECTED if m.account.id in refused else NpsStatus.MATCHED,
                  reason=refused.get(m.account.id))
        for m in matched
    ]
    records += [NpsRecord(response=u.response, status=NpsStatus.UNMATCHED, reason=u.reason) for u in unmatched]
    return records


# -- demo ------------------------------------------------------------------------------------------



def _reads(job: NpsJob) -> NpsReads:
    return NpsReads(adapter=job.adapter, store=job.store, scope=job.scope, fieldmap=job.fieldmap,
                    referrer_field=job.policy.referrer_field)


def write_demo_csv(dataset, path: str | Path) -> Path:
    """Write the demo data set's NPS responses (``connector.sandbox.demo.DemoDataset``) as a CSV
    file the csv source reads, so ``afterclose demo`` can run the NPS job."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(DEMO_CSV_COLUMNS)
        for r in dataset.nps_responses:
            stamp = r.responded_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
            writer.writerow([r.response_id, r.email, r.score, stamp, r.comment or ""])
    return target


__all__ = ["JOB", "NpsJob", "NpsReport", "build_nps_job", "run_nps", "write_demo_csv"]
