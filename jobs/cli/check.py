"""`afterclose check`: config, credentials, state database and mapping against the live CRM."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from connector.port import SchemaProblem, SupportsPermissions, SupportsSetup, SupportsTaskKeyMode
from jobs.cli.exits import ExitCode
from jobs.cli.output import echo, echo_err
from jobs.cli.run import JOBS
from jobs.cli.runtime import Runtime, load_runtime
from jobs.config_sources import value_sources
from jobs.playbooks.renewal_deal import renewal_deal_target_problems
from jobs.schema_fit import JobFit, fit
from jobs.state import StateCorruptError, StateStore
from jobs.wiring import wiring

FUTURE_TOLERANCE = dt.timedelta(hours=1)
"""Cursors hold the CRM's own modified stamps, so a CRM clock a little ahead of ours is normal;
a cursor further ahead than this hides every deal changed before it until then."""


def check_command(config_path: Path) -> int:
    runtime = load_runtime(config_path)
    for warning in runtime.settings.file_warnings():
        echo(f"warning: {warning}")
    for note in runtime.playbooks.notes:
        echo(f"note: {note}")
    try:
        return _check(runtime)
    finally:
        # After the verdict, whatever it is: a value from the environment is often the answer to
        # "why does it use that port / that token?" (the environment wins over the file).
        for line in value_sources(runtime.settings):
            echo(line)


def _check(runtime: Runtime) -> int:
    # Opening the store migrates it and proves it is usable (exit 2 naming the file if not).
    with runtime.store() as store, runtime.crm() as session:
        found = session.adapter.check_schema()
        session.reached = True
        adapter = session.adapter
        missing = adapter.missing_permissions() if isinstance(adapter, SupportsPermissions) else []
        # A field that does not exist is named once, as a mapping problem, not again as a permission
        # to read it (as `setup` does, jobs/cli/setup.py).
        absent = {problem.crm_field for problem in found if not problem.note}
        missing = [permission for permission in missing if permission.split(":")[0] not in absent]
        scope = runtime.scope_of(session, store)
        state = state_problems(store, scope, runtime.clock())
        location = store.location
        fits = {job: fit(found, runtime.fieldmap, job) for job in JOBS}
        configured = runtime.configured_jobs(JOBS)
        blocked = [job for job in configured if not fits[job].ready]
        task_keys = adapter.task_key_mode() if isinstance(adapter, SupportsTaskKeyMode) and not blocked else None
        targets = renewal_deal_target_problems(adapter, runtime.playbooks.set, runtime.playbooks.source)
    per_job = _print_fits(runtime, fits, configured, setup_hint=isinstance(adapter, SupportsSetup))
    if missing:
        click.echo("The credentials lack permissions the jobs need (docs/permissions.md):", err=True)
        for permission in missing:
            echo_err(f"  missing permission: {permission}")
    if state:
        click.echo(f"The state database {location} needs attention:", err=True)
        for problem in state:
            echo_err(f"  {problem}")
    if targets:
        click.echo("Where the playbooks create renewal deals does not exist in the live CRM:", err=True)
        for line in targets:
            echo_err(f"  {line}")
    if blocked or missing or state or targets:
        for line in per_job:
            echo(line)
        return ExitCode.CONFIG
    url, _ = wiring(runtime.provider).endpoint(runtime.settings)
    echo(f"ok: config {runtime.settings.source or '(environment)'}, credentials, state database and mapping "
         f"{runtime.fieldmap.source} fit the live {runtime.provider.value} CRM at {url} ({scope})")
    for line in per_job:
        echo(line)
    if task_keys:
        echo(f"task keys: {task_keys}")
    return ExitCode.OK


def _print_fits(runtime: Runtime, fits: dict[str, JobFit], configured: tuple[str, ...], *,
                setup_hint: bool) -> list[str]:
    """Prints what does not fit; returns the per-job lines (ready or not, the optional targets a
    run would skip, the notes on compatible pairs that differ) to print after the verdict. One
    code path with `run` and `plan` (jobs/schema_fit.py)."""
    lines: list[str] = []
    notes = {str(p): p for job_fit in fits.values() for p in job_fit.notes}
    blocking: dict[SchemaProblem, list[str]] = {}
    for job in configured:
        for problem in fits[job].blocking:
            blocking.setdefault(problem, []).append(job)
    if blocking:
        click.echo(f"The mapping ({runtime.fieldmap.source}) does not fit the live CRM:", err=True)
        for problem, jobs in blocking.items():
            echo_err(f"  mapping key {problem.mapping_key} -> CRM field {problem.crm_field}: {problem.problem} "
                     f"(needed by: {', '.join(jobs)})")
    for job, job_fit in fits.items():
        if job not in configured:
            state = "ready" if job_fit.ready else f"{len(job_fit.blocking)} problem(s) to fix before it can run"
            lines.append(f"job {job}: not configured ([nps] source = \"none\"); once configured: {state}")
            lines += [f"  mapping key {p.mapping_key} -> CRM field {p.crm_field}: {p.problem}"
                      for p in job_fit.blocking]
            continue
        lines.append(f"job {job}: {'ready' if job_fit.ready else 'NOT ready (see above)'}")
        lines += [f"  {job} skips optional target {skipped} (reported by every run until fixed)"
                  for skipped in job_fit.skipped]
    lines += [f"note: mapping key {n.mapping_key} -> CRM field {n.crm_field}: {n.problem}" for n in notes.values()]
    if setup_hint and any(_setup_makes(runtime, p.mapping_key) for p in blocking):
        click.echo("`afterclose setup` creates AfterClose's own fields, or says how to.", err=True)
    elif setup_hint and any(_setup_makes(runtime, s.key) for job in configured for s in fits[job].skipped):
        # Nothing blocks (check ends "ok"): the hint belongs to the skipped targets, after the verdict.
        lines.append("  `afterclose setup` creates the skipped targets that are AfterClose's own fields, "
                     "or says how to")
    return lines


def _setup_makes(runtime: Runtime, mapping_key: str) -> bool:
    """Whether `afterclose setup` creates (or says how to create) the field a mapping key names:
    the task key field and the fields the mapping marks ``afterclose = true``; an admin's own field
    it does not touch."""
    key = mapping_key.removeprefix("fields.")
    if key == "task_key_field":
        return True
    return key in runtime.fieldmap.fields and runtime.fieldmap.spec(key).afterclose_owned


def state_problems(store: StateStore, scope: str, now: dt.datetime) -> list[str]:
    """Cursors that cannot be read, or that stand in the future (no deal changed before then is read)."""
    problems = []
    for job in JOBS:
        try:
            cursor = store.get_cursor(scope, job)
        except StateCorruptError as exc:
            problems.append(str(exc))
            continue
        if cursor is not None and cursor.modified > now + FUTURE_TOLERANCE:
            problems.append(
                f"the {job} cursor of scope {scope!r} is in the future ({cursor.modified.isoformat()}, now "
                f"{now.isoformat(timespec='seconds')}): deals changed before then are not read until then. If a "
                f"wrong clock or a bad import set it, delete it (DELETE FROM afterclose_cursors WHERE scope = "
                f"'{scope}' AND job = '{job}'); the next run reads every deal again and creates nothing twice.")
    return problems
