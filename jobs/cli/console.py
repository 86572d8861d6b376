"""`afterclose console`: the admin console alone (jobs/console/), until Ctrl-C or SIGTERM; and the
part `serve` and `demo --console` share: starting it next to whatever else runs."""

from __future__ import annotations

import contextlib
import secrets
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import cast

import click

from connector.serving import serve_app
from jobs import logs
from jobs.cli.exits import CommandFailed, ExitCode
from jobs.cli.runtime import load_runtime
from jobs.console.settings import ConsoleSection


@contextlib.contextmanager
def console_running(config_path: Path, section: ConsoleSection, *, store_url: object,
                    one_time_token: str | None = None, host: str | None = None, port: int | None = None,
                    on_change: Callable[[], None] = lambda: None) -> Iterator[str]:
    """Serve the console in this process's background; yields its address."""
    from jobs.console.app import console_app
    from jobs.console.auth import Gate
    from jobs.console.context import ConsoleContext
    from jobs.state import StateStore, open_store

    host = host or section.host
    port = section.port if port is None else port
    with open_store(store_url) as store:
        # cast: SqlStateStore.lock's context manager is typed narrower than the port's (it is one).
        ctx = ConsoleContext(config_path=config_path, store=cast(StateStore, store),
                             gate=Gate.of(section, one_time_token),
                             on_change=on_change)
        try:
            server = serve_app(console_app(ctx), host=host, port=port, name="console")
            bound = server.__enter__()
        except (RuntimeError, OSError) as exc:
            raise CommandFailed(f"cannot serve the console on {host}:{port} (console.host, console.port): {exc}",
                                ExitCode.CONFIG) from None
        try:
            yield f"http://{_url_host(host)}:{bound}"
        finally:
            server.__exit__(None, None, None)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def console_command(config_path: Path, host: str | None, port: int | None) -> int:
    runtime = load_runtime(config_path)
    section = runtime.settings.console
    token = None
    if section.admin_token is None and section.proxy_user_header is None:
        token = secrets.token_urlsafe(24)  # made for this run only, never stored
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with console_running(config_path, section, store_url=runtime.settings.state.url, one_time_token=token,
                         host=host, port=port) as address:
        for line in sign_in_lines(address, token):
            click.echo(line)
        sys.stdout.flush()
        logs.get_logger("afterclose.console").info("console_serving", address=address)
        stop.wait()
    click.echo("console stopped")
    return ExitCode.OK


def sign_in_lines(address: str, token: str | None) -> list[str]:
    lines = [f"AfterClose console: {address}/"]
    if token is not None:
        lines += [f"sign-in token (made for this run, valid until it stops): {token}"]
    else:
        lines += ["sign in with the console's admin or viewer token ([console] admin_token, viewer_token)"]
    return lines + ["Ctrl-C (or SIGTERM) stops it."]
