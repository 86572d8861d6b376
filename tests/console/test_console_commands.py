"""The console as a user starts it: `afterclose console`, `afterclose demo --console`, and under
`afterclose serve` when `[console] enabled`."""

from __future__ import annotations

import json
import re
import signal

import httpx
import pytest

from tests.cli.conftest import hubspot, invoke, open_crm, start_cli  # noqa: F401 - fixtures
from tests.cli.test_serve import events, free_port, serve_config, wait_until
from tests.console.conftest import ADMIN_TOKEN


def _lines_until(process, marker: str) -> list[str]:
    lines = []
    while not lines or marker not in lines[-1]:
        line = process.stdout.readline()
        assert line, f"it ended before printing {marker!r}: {lines} {process.stderr.read()}"
        lines.append(line.rstrip("\n"))
    return lines


def _signs_in(address: str, token: str) -> httpx.Response:
    with httpx.Client(base_url=address, timeout=30) as client:
        form = client.get("/signin")
        nonce = re.search(r'name="nonce" value="([^"]+)"', form.text).group(1)
        client.post("/signin", data={"nonce": nonce, "token": token, "next": "/runs"})
        return client.get("/runs")


def test_given_no_token_configured_then_console_prints_its_address_and_a_sign_in_token_made_for_this_run(hubspot):
    config = hubspot.config()
    process = start_cli("console", "--config", config, "--port", "0")
    try:
        lines = _lines_until(process, "Ctrl-C")
        address = re.search(r"http://127\.0\.0\.1:\d+", lines[0]).group(0)
        token = lines[1].rsplit(": ", 1)[1].strip()
        runs = _signs_in(address, token)
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
    assert runs.status_code == 200 and "<h1>Runs</h1>" in runs.text and process.returncode == 0
    assert token not in config.read_text()


def test_demo_with_console_runs_the_demo_then_prints_the_console_address_and_a_token():
    process = start_cli("demo", "--console")
    try:
        lines = _lines_until(process, "Ctrl-C")
        address = re.search(r"http://127\.0\.0\.1:\d+", "\n".join(lines)).group(0)
        token = next(line for line in lines if "sign-in token" in line).rsplit(": ", 1)[1].strip()
        runs = _signs_in(address, token)
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert "Nothing was created twice." in "\n".join(lines)
    assert runs.status_code == 200 and 'href="/runs/1"' in runs.text  # the demo's runs, in the console


def test_given_console_enabled_then_serve_serves_it_next_to_the_jobs(hubspot):
    port, console_port = free_port(), free_port()
    config = serve_config(hubspot, port)
    config.write_text(config.read_text() + f'[console]\nenabled = true\nport = {console_port}\n'
                                           f'admin_token = "{ADMIN_TOKEN}"\n')
    server = start_cli("serve", "--config", config)
    try:
        wait_until(lambda: _up(console_port), what="the console to answer")
        runs = _signs_in(f"http://127.0.0.1:{console_port}", ADMIN_TOKEN)
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
    assert runs.status_code == 200 and "<h1>Runs</h1>" in runs.text and server.returncode == 0


@pytest.mark.parametrize("enabled", ["", "enabled = false\n"], ids=["enabled unset", "enabled = false"])
def test_given_console_not_enabled_then_serve_serves_the_jobs_and_no_console(hubspot, enabled):
    # Off unless configured (issue 19, "Security"): a [console] section with a token and a port is not
    # enough; only `enabled = true` opens the port.
    port, console_port = free_port(), free_port()
    config = serve_config(hubspot, port)
    config.write_text(config.read_text() + f'[console]\n{enabled}port = {console_port}\nadmin_token = "{ADMIN_TOKEN}"\n')
    server = start_cli("serve", "--config", config)
    try:
        seen = []
        while not any(e.get("event") == "serving" for e in seen):  # logged once the console would be up
            line = server.stderr.readline()
            assert line, f"serve ended before serving: {seen}"
            if line.startswith("{"):
                seen.append(json.loads(line))
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
        console_answers = _up(console_port)
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
    assert health.status_code in (200, 503) and server.returncode == 0  # the jobs' own server is up
    assert not console_answers
    assert "console_serving" not in [e["event"] for e in seen + events(err)]


def _up(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/signin", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
