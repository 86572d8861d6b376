"""The ``afterclose`` command line.

Exit codes (scripts and schedulers rely on them):
0 everything written · 1 finished, some records rejected (listed, kept for retry) ·
2 config, mapping or credential problem, nothing written · 3 another run holds the lock.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import click

from connector.errors import AfterCloseError, LockHeldError
from jobs import logs

CONFIG_OPTION = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), envvar="AFTERCLOSE_CONFIG",
    default="afterclose.toml", show_default=True, help="The TOML config file (env AFTERCLOSE_CONFIG).",
)


def user_errors(fn):
    """Turn AfterClose's own errors into one readable message and the documented exit code."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except LockHeldError as exc:
            click.echo(f"afterclose: {logs.redact(str(exc))}", err=True)
            sys.exit(3)
        except AfterCloseError as exc:
            click.echo(f"afterclose: {logs.redact(str(exc))}", err=True)
            sys.exit(exc.exit_code)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="afterclose")
def cli() -> None:
    """AfterClose keeps selling after the close: it checks each won deal's handoff, creates the
    follow-up and renewal tasks your reps see in HubSpot or Salesforce, and writes NPS and referral
    status back onto the customer's records."""


@cli.command()
@CONFIG_OPTION
@click.option("--job", type=click.Choice(["sync", "nps", "all"]), default="sync", show_default=True)
@user_errors
def run(config_path: Path, job: str) -> None:
    """One pass: pull won deals, plan, write to the CRM, record. Exit 0/1/2/3 (see --help of afterclose)."""
    from jobs.commands import run_command

    sys.exit(run_command(config_path, job))


@cli.command()
@CONFIG_OPTION
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--job", type=click.Choice(["sync", "nps", "all"]), default="all", show_default=True)
@user_errors
def plan(config_path: Path, fmt: str, job: str) -> None:
    """The dry run: read the CRM, write nothing, print what `run` would do and why."""
    from jobs.commands import plan_command

    sys.exit(plan_command(config_path, fmt, job))


@cli.command()
@CONFIG_OPTION
@user_errors
def check(config_path: Path) -> None:
    """Check config, credentials and the mapping against the live CRM schema. Exit 0 or 2."""
    from jobs.commands import check_command

    sys.exit(check_command(config_path))


@cli.command()
@CONFIG_OPTION
@user_errors
def setup(config_path: Path) -> None:
    """Create AfterClose's own CRM fields where the API allows; print what an admin must deploy."""
    from jobs.commands import setup_command

    sys.exit(setup_command(config_path))


@cli.command()
@CONFIG_OPTION
@click.option("--limit", default=10, show_default=True, help="How many recent runs to show.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@user_errors
def status(config_path: Path, limit: int, fmt: str) -> None:
    """Last runs, cursors, and rejected records waiting for a retry."""
    from jobs.commands import status_command

    sys.exit(status_command(config_path, limit, fmt))


@cli.command()
@CONFIG_OPTION
@user_errors
def serve(config_path: Path) -> None:
    """Run on the configured cron schedules, with /healthz and /metrics. SIGTERM finishes the
    current page, records it and exits."""
    from jobs.schedule import serve_command

    sys.exit(serve_command(config_path))


@cli.command()
@click.option("--provider", type=click.Choice(["hubspot", "salesforce"]), default="hubspot", show_default=True)
@user_errors
def demo(provider: str) -> None:
    """See AfterClose work end to end against a sandbox CRM: no account, no network, no config."""
    from jobs.demo import run_demo

    sys.exit(run_demo(provider))


@cli.command()
@click.argument("provider", type=click.Choice(["hubspot", "salesforce"]))
@click.option("--host", default="127.0.0.1", show_default=True, help="Bind address (loopback by default).")
@click.option("--port", default=0, show_default=True, help="0 picks a free port.")
@click.option("--seed", type=click.Choice(["demo", "empty"]), default="demo", show_default=True)
def sandbox(provider: str, host: str, port: int, seed: str) -> None:
    """Start a loopback CRM sandbox and print its URL and token, to point a config at."""
    if provider == "hubspot":
        from connector.sandbox.hubspot import run_forever
    else:
        from connector.sandbox.salesforce import run_forever
    run_forever(host, port, seed == "demo")


def print_json(obj) -> None:
    click.echo(json.dumps(obj, indent=2, default=str, ensure_ascii=False))


def main() -> None:
    cli()
