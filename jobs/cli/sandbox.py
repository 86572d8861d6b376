"""`afterclose sandbox`: a loopback CRM (the demo's, or empty) to point a config at."""

from __future__ import annotations

import signal
import sys
import threading

import click

from connector.sandbox import SandboxEndpoint
from connector.sandbox.demo import demo_dataset
from jobs import logs
from jobs.wiring import wiring


def serve_sandbox(provider: str, *, host: str = "127.0.0.1", port: int = 0, seed: str = "demo",
                  token: str = "sandbox-token") -> int:
    """Serve a sandbox until SIGTERM or Ctrl-C, printing how to point a config at it."""
    logs.configure("warning")
    sandbox = wiring(provider).new_sandbox(token)
    if seed == "demo":
        sandbox.load(demo_dataset())
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with sandbox.serve(host=host, port=port) as endpoint:
        for line in sandbox_instructions(endpoint):
            click.echo(line)
        click.echo("Ctrl-C (or SIGTERM) stops it; its data lives in memory only.")
        sys.stdout.flush()  # a pipe (a test, a supervisor) sees the URL before anything else
        stop.wait()
    click.echo("sandbox stopped")
    return 0


def sandbox_instructions(endpoint: SandboxEndpoint) -> list[str]:
    lines = [f"{endpoint.provider} sandbox listening on {endpoint.base_url}", f"token: {endpoint.token}"]
    if endpoint.ca_path is not None:
        lines.append(f"CA file: {endpoint.ca_path}  (the sandbox's TLS certificate is signed by this test CA)")
    values = wiring(endpoint.provider).sandbox_settings(endpoint)
    section = ["[crm]", f'provider = "{endpoint.provider}"', f"[{endpoint.provider}]",
               *(f'{key} = "{value}"' for key, value in values.items())]
    return lines + ["", "A config that uses it:", *section, ""]
