"""The ``afterclose`` command line (``python -m jobs`` is the same): argument parsing only.

Each command lives in its own module of this package (run.py, plan.py, check.py, setup.py,
status.py, serve.py, console.py, demo.py, sandbox.py) and is imported when it runs, so ``--help`` stays fast.
Exit codes are defined once, in exits.py.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import click

from connector.errors import AfterCloseError
from jobs import logs
from jobs.cli.exits import HELP, ExitCode, exit_code_of

EXIT_CODES_HELP = HELP

CONFIG_OPTION = click.option(
    # readable=False: an unreadable file is explained by Settings.load (who AfterClose runs as, what to do).
    "--config", "config_path", type=click.Path(dir_okay=False, readable=False, path_type=Path),
    envvar="AFTERCLOSE_CONFIG",
    default="afterclose.toml", show_default=True, help="The TOML config file (env AFTERCLOSE_CONFIG).",
)
JOB_CHOICE = click.Choice(["sync", "nps", "all"])
DEFAULT_JOB = "all"
"""`run` and `plan` default to the same jobs, so the dry run shows what the run will do: every job
the config sets up (sync, and NPS when ``[nps] source`` is not "none"), as `serve` and the
Kubernetes CronJob run them."""


def user_errors(fn):
    """Turn every failure into one readable line on stderr and the documented exit code: a
    traceback helps nobody who runs this from cron (it goes to the log, redacted, instead)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except AfterCloseError as exc:
            click.echo(f"afterclose: {logs.redact(str(exc))}", err=True)
            sys.exit(exit_code_of(exc))
        except click.ClickException:
            raise  # click prints its own usage message and exits 2
        except KeyboardInterrupt:
            click.echo("afterclose: interrupted", err=True)
            sys.exit(ExitCode.INTERRUPTED)
        except Exception as exc:  # noqa: BLE001 - the last guard before a user would see a traceback
            logs.get_logger("afterclose").error("internal_error", exc_info=True)
            click.echo(f"afterclose: internal error, {logs.redact(f'{type(exc).__name__}: {exc}')} "
                       f"(the log has the details)", err=True)
            sys.exit(ExitCode.FAILED)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
             epilog=EXIT_CODES_HELP)
@click.version_option(package_name="afterclose")
def cli() -> None:
    """AfterClose keeps selling after the close: it checks each won deal's handoff, creates the
    follow-up and renewal tasks your reps see in HubSpot or Salesforce, and writes NPS and referral
    status back onto the customer's records.

    Start with `afterclose demo`, then `check`, `setup`, `plan` and `run` against your CRM.
    """


@cli.command(epilog=EXIT_CODES_HELP)
@CONFIG_OPTION
@click.option("--job", type=JOB_CHOICE, default=DEFAULT_JOB, show_default=True,
              help="sync: tasks and handoff status; nps: survey results and referrals; all: sync, then nps "
                   "when a source is configured.")
@click.option("--rejected-ok", is_flag=True,
              help="Exit 0, not 1, when the run finished and its only problem is records the CRM refused or NPS "
                   "rows it could not use (listed, kept and retried next run; `status` shows them): for "
                   "schedulers that count any non-zero exit as a failed run, such as a Kubernetes CronJob.")
@user_errors
def run(config_path: Path, job: str, rejected_ok: bool) -> None:
    """One pass: pull won deals, plan, write to the CRM, record. SIGTERM finishes the current
    page, records it and stops."""
    from jobs.cli.run import run_command

    sys.exit(run_command(config_path, job, rejected_ok=rejected_ok))


@cli.command(epilog=EXIT_CODES_HELP)
@CONFIG_OPTION
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--job", type=JOB_CHOICE, default=DEFAULT_JOB, show_default=True,
              help="Which jobs to plan (the same default as `run`); all: sync and, when a source is configured, "
                   "nps.")
@user_errors
def plan(config_path: Path, fmt: str, job: str) -> None:
    """The dry run: read the CRM, make no write call, print what `run` would create, reschedule,
    close or write for each deal and why, and how many API calls that run would spend."""
    from jobs.cli.plan import plan_command

    sys.exit(plan_command(config_path, fmt, job))


@cli.command(epilog=EXIT_CODES_HELP)
@CONFIG_OPTION
@user_errors
def check(config_path: Path) -> None:
    """Check the config, the credentials, the state database and the mapping against the live CRM
    schema. Exit 0, or 2 with one line per problem."""
    from jobs.cli.check import check_command

    sys.exit(check_command(config_path))


@cli.command(epilog=EXIT_CODES_HELP)
@CONFIG_OPTION
@click.option("--write-package", "package_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Salesforce: write the fields and the permission set as a metadata package (SFDX source "
                   "format) for an admin to deploy, instead of changing the org.")
@user_errors
def setup(config_path: Path, package_dir: Path | None) -> None:
    """Create AfterClose's own CRM fields and grant the integration user access to them where the
    API and its permissions allow; then describe the CRM again. Exit 0 when nothing is missing,
    2 with one line per field or permission still missing. Safe to run again."""
    from jobs.cli.setup import setup_command

    sys.exit(setup_command(config_path, package_dir))


@cli.command()
@CONFIG_OPTION
@click.option("--limit", default=10, show_default=True, help="How many recent runs to show.")
@click.option("--run", "run_id", type=int, default=None,
              help="Instead: what this run did to every record (created, rescheduled, skipped and why, rejected).")
@click.option("--deal", "deal_id", default=None,
              help="Instead: what every kept run did to this deal (its CRM id), newest run first.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@user_errors
def status(config_path: Path, limit: int, run_id: int | None, deal_id: str | None, fmt: str) -> None:
    """Recent runs, cursors, and rejected records waiting for a retry (with the CRM's reasons);
    or, with --run or --deal, the record of what runs did, record by record."""
    from jobs.cli.status import history_command, status_command

    if run_id is not None and deal_id is not None:
        raise click.UsageError("--run and --deal show different things; give one of them")
    if run_id is not None or deal_id is not None:
        sys.exit(history_command(config_path, fmt, run_id=run_id, deal_id=deal_id))
    sys.exit(status_command(config_path, limit, fmt))


@cli.command(epilog=EXIT_CODES_HELP)
@CONFIG_OPTION
@click.option("--run-now", is_flag=True, help="Also run every scheduled job once at start.")
@user_errors
def serve(config_path: Path, run_now: bool) -> None:
    """Run the jobs on the config's cron schedules and serve /healthz and /metrics. Replicas
    sharing one PostgreSQL state database run each tick once. SIGTERM finishes the current page,
    records it and exits 0."""
    from jobs.cli.serve import serve_command

    sys.exit(serve_command(config_path, run_now=run_now))


@cli.command(epilog=EXIT_CODES_HELP)
@CONFIG_OPTION
@click.option("--host", default=None, help="Bind address (default: [console] host, the loopback address).")
@click.option("--port", type=int, default=None, help="Port (default: [console] port; 0 picks a free one).")
@user_errors
def console(config_path: Path, host: str | None, port: int | None) -> None:
    """The admin console alone: mappings, playbooks, a preview of the next run, runs and the handoff
    scorecard in a browser (docs/console.md). Without a configured token it prints a sign-in token
    made for this run. Runs until Ctrl-C or SIGTERM."""
    from jobs.cli.console import console_command

    sys.exit(console_command(config_path, host, port))


@cli.command()
@click.option("--provider", type=click.Choice(["hubspot", "salesforce"]), default="hubspot", show_default=True)
@click.option("--console", "with_console", is_flag=True,
              help="Then keep the sandbox running and open the admin console on it (prints its address and a "
                   "sign-in token); Ctrl-C stops both.")
@user_errors
def demo(provider: str, with_console: bool) -> None:
    """See AfterClose work end to end against a sandbox CRM: no account, no network, no config."""
    from jobs.cli.demo import run_demo

    sys.exit(run_demo(provider, with_console=with_console))


@cli.command()
@click.argument("provider", type=click.Choice(["hubspot", "salesforce"]))
@click.option("--host", default="127.0.0.1", show_default=True, help="Bind address (loopback by default).")
@click.option("--port", default=0, show_default=True, help="0 picks a free port.")
@click.option("--seed", type=click.Choice(["demo", "empty"]), default="demo", show_default=True,
              help="demo: the demo company's deals, contacts and owners; empty: nothing.")
@click.option("--token", default="sandbox-token", show_default=True, help="The access token the sandbox accepts.")
@user_errors
def sandbox(provider: str, host: str, port: int, seed: str, token: str) -> None:
    """Start a loopback CRM sandbox and print its URL, token (and CA file), to point a config at.
    Runs until Ctrl-C or SIGTERM."""
    from jobs.cli.sandbox import serve_sandbox

    sys.exit(serve_sandbox(provider, host=host, port=port, seed=seed, token=token))


def main() -> None:
    cli()
