"""`afterclose demo` for both CRMs, and `afterclose sandbox` as a user starts it."""

from __future__ import annotations

import shutil
import signal
import ssl
import subprocess

import httpx
import pytest

from tests.cli.conftest import REPO, invoke, start_cli


@pytest.mark.parametrize("provider", ["hubspot", "salesforce"])
def test_demo_shows_deals_by_name_owners_nps_and_no_duplicates_without_log_lines(provider):
    result = invoke("demo", "--provider", provider)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert f"AfterClose demo - {provider} sandbox" in out
    assert "Oceanic Air - Expansion: missing Decision criteria" in out  # deals by name, not id
    assert "Ada Lovelace" in out  # owners by name
    assert "Orphaned Account Co:" in out and "retried on the next run" in out
    assert "`[playbook] fallback_owner`" in out  # the hint's section name is text, not markup
    assert "Nothing was created twice." in out
    assert "NPS" in out and "promoters" in out and "detractors" in out
    assert "record_rejected" not in out and '"event"' not in out and "[warning" not in out
    assert result.stderr == ""
    # It ends pointing to the console: the last paragraph (wrapped to the terminal) names the command.
    last = " ".join(out[out.rindex("See it in a browser: "):].split())
    assert last.startswith(f"See it in a browser: afterclose demo --provider {provider} --console runs this demo")
    assert last.endswith("prints its address and a sign-in token.")


def test_make_demo_runs_the_demo_so_it_too_ends_pointing_to_the_console():
    make = shutil.which("make")
    if make is None:
        pytest.fail("`make` is not on PATH: the project's two commands (`make demo`, `make test`) need it")
    plan = subprocess.run([make, "--no-print-directory", "-C", str(REPO), "-n", "-B", "demo"], capture_output=True,
                          text=True, timeout=60).stdout.strip().splitlines()
    assert plan[-1].endswith("/afterclose demo"), plan  # the same command, its output last


def test_given_sandbox_command_then_it_prints_url_and_token_answers_the_api_and_stops_on_sigterm():
    process = start_cli("sandbox", "hubspot", "--port", "0")
    try:
        lines = read_until(process, "Ctrl-C")
        first, token = lines[0], lines[1].split(": ", 1)[1].strip()
        url = first.rsplit(" ", 1)[1].strip()
        reply = httpx.get(f"{url}/crm/v3/owners/", headers={"Authorization": f"Bearer {token}"})
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
    assert first.startswith("hubspot sandbox listening on http://127.0.0.1:")
    assert reply.status_code == 200 and len(reply.json()["results"]) >= 5  # the demo owners
    assert f'base_url = "{url}"' in lines and f'access_token = "{token}"' in lines and process.returncode == 0


def read_until(process, marker: str) -> list[str]:
    lines = []
    while not lines or marker not in lines[-1]:
        line = process.stdout.readline()
        assert line, f"the sandbox ended before printing {marker!r}: {lines}"
        lines.append(line.rstrip("\n"))
    return lines


def test_given_salesforce_sandbox_command_then_it_prints_the_ca_that_verifies_its_tls():
    process = start_cli("sandbox", "salesforce", "--seed", "empty")
    try:
        lines = read_until(process, "Ctrl-C")
        url = lines[0].rsplit(" ", 1)[1].strip()
        ca = lines[2].split(": ", 1)[1].split()[0]
        reply = httpx.get(f"{url}/services/data", verify=ssl.create_default_context(cafile=ca))
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
    assert url.startswith("https://127.0.0.1:") and reply.status_code == 200
    assert process.returncode == 0
