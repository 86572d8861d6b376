"""`afterclose check`: config, credentials, state database and mapping against the live CRM."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from connector.port import SupportsPermissions, SupportsSetup, SupportsTaskKeyMode
from jobs.cli.exits import ExitCode
from jobs.cli.output import echo, echo_err
from jobs.cli.run import JOBS
from jobs.cli.runtime import Runtime, load_runtime
from jobs.config_sources import value_sources
from jobs.playbooks.renewal_deal import renewal_deal_target_problems
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
        problems = session.adapter.check_schema()
        session.reached = True
        adapter = session.adapter
        missing = adapter.missing_permissions() if isinstance(adapter, SupportsPermissions) else []
        scope = runtime.scope_of(session, store)
        state = state_problems(store, scope, runtime.clock())
        location = store.location
        task_keys = adapter.task_key_mode() if isinstance(adapter, SupportsTaskKeyMode) and not problems else None
        targets = renewal_deal_target_problems(adapter, runtime.playbooks.set, runtime.playbooks.source)
    if problems:
        click.echo(f"The mapping ({runtime.fieldmap.source}) does not fit the live CRM:", err=True)
        for problem in problems:
            echo_err(f"  mapping key {problem.mapping_key} -> CRM field {problem.crm_field}: {problem.problem}")
        if isinstance(adapter, SupportsSetup):
            click.echo("`afterclose setup` creates AfterClose's own fields, or says how to.", err=True)
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
    if problems or missing or state or targets:
        return ExitCode.CONFIG
    url, _ = wiring(runtime.provider).endpoint(runtime.settings)
    echo(f"ok: config {runtime.settings.source or '(environment)'}, credentials, state database and mapping "
         f"{runtime.fieldmap.source} fit the live {runtime.provider.value} CRM at {url} ({scope})")
    if task_keys:
        echo(f"task keys: {task_keys}")
    return ExitCode.OK


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
