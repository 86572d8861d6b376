"""`afterclose setup`: create AfterClose's own CRM fields where the API allows, or say how to."""

from __future__ import annotations

from pathlib import Path

from connector.port import SupportsSetup
from jobs.cli.exits import CommandFailed, ExitCode
from jobs.cli.output import echo
from jobs.cli.runtime import load_runtime


def setup_command(config_path: Path) -> int:
    runtime = load_runtime(config_path)
    with runtime.crm() as session:
        if not isinstance(session.adapter, SupportsSetup):
            raise CommandFailed(f"the {runtime.provider.value} adapter cannot set up fields", ExitCode.CONFIG)
        lines = session.adapter.setup()
    for line in lines:
        echo(line)
    return ExitCode.OK
