"""`afterclose check`: config, credentials, state database and mapping against the live CRM."""

from __future__ import annotations

from pathlib import Path

import click

from connector.port import SupportsPermissions, SupportsSetup
from jobs.cli.exits import ExitCode
from jobs.cli.output import echo, echo_err
from jobs.cli.runtime import load_runtime
from jobs.wiring import wiring


def check_command(config_path: Path) -> int:
    runtime = load_runtime(config_path)
    for warning in runtime.settings.file_warnings():
        echo(f"warning: {warning}")
    for note in runtime.playbooks.notes:
        echo(f"note: {note}")
    with runtime.store():
        pass  # opening migrates and proves the database is reachable (StateStoreError: exit 2)
    with runtime.crm() as session:
        problems = session.adapter.check_schema()
        session.reached = True
        adapter = session.adapter
        missing = adapter.missing_permissions() if isinstance(adapter, SupportsPermissions) else []
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
    if problems or missing:
        return ExitCode.CONFIG
    url, _ = wiring(runtime.provider).endpoint(runtime.settings)
    echo(f"ok: config {runtime.settings.source or '(environment)'}, credentials, state database and mapping "
         f"{runtime.fieldmap.source} fit the live {runtime.provider.value} CRM at {url}")
    return ExitCode.OK
