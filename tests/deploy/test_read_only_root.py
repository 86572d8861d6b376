"""readOnlyRootFilesystem: AfterClose writes nowhere but its state volume. Each test runs the real
commands in a private mount namespace where the whole filesystem is read-only except the state
folder (SQLite) or nothing at all (PostgreSQL), as in the Kubernetes pods, which therefore mount no
/tmp. Needs root and unshare (CI has both); the CRM sandbox runs outside, on loopback."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.conftest import cli_env, hubspot, open_crm, salesforce  # noqa: F401 - fixtures
from tests.cli.test_serve import free_port, get, wait_until


def _unshare_works() -> str | None:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return "needs root and unshare(1) to make the filesystem read-only in a mount namespace"
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                            "mount -o remount,bind,ro / && ! touch /var/tmp/.afterclose-ro-probe"],
                           capture_output=True, timeout=30)
    return None if probe.returncode == 0 else f"unshare cannot remount / read-only here: {probe.stderr!r}"


pytestmark = pytest.mark.skipif(bool(reason := _unshare_works()), reason=reason or "")


@pytest.fixture
def volume() -> Iterator[Path]:
    """The state volume: outside /tmp, which pytest's tmp_path lives in."""
    folder = Path(tempfile.mkdtemp(prefix="afterclose-volume-", dir="/var/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def read_only(commands: list[list[str]], *, writable: Path | None, cwd: Path) -> list[str]:
    """A shell line running ``commands`` one after another with / read-only except ``writable``."""
    binds = f"mount --bind {writable} {writable} && " if writable else ""
    steps = " && ".join(" ".join([sys.executable, "-m", "jobs", *c]) for c in commands[:-1])
    last = " ".join([sys.executable, "-m", "jobs", *commands[-1]])
    return (f"{binds}mount -o remount,bind,ro / && cd {cwd} && " + (f"{steps} && " if steps else "")
            + f"exec {last}")


def in_namespace(line: str, **popen) -> subprocess.Popen:
    env = cli_env(PYTHONDONTWRITEBYTECODE="1")
    return subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", line],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


@pytest.mark.parametrize("provider", ["hubspot", "salesforce"])
def test_given_a_read_only_root_and_a_state_volume_then_setup_and_run_work_and_write_only_there(
        open_crm, volume, provider):
    crm = open_crm(provider)
    config = crm.config('[log]\nformat = "json"\n', state_url="sqlite:///.afterclose/state.db")
    shutil.copy(config, volume / "config.toml")
    run = in_namespace(read_only([["setup", "--config", "config.toml"], ["run", "--job", "all", "--config",
                                                                        "config.toml"]],
                                 writable=volume, cwd=volume))
    out, err = run.communicate(timeout=120)
    assert run.returncode == 1, err  # 1: the demo's deactivated owner's tasks are refused, the rest written
    assert "Read-only file system" not in err
    assert (volume / ".afterclose" / "state.db").is_file()
    assert len(crm.task_keys()) > 0


def test_given_a_read_only_root_and_postgresql_state_then_run_needs_no_writable_place_at_all(
        open_crm, volume, pg_url):
    crm = open_crm("hubspot")
    shutil.copy(crm.config(state_url=pg_url), volume / "config.toml")
    run = in_namespace(read_only([["setup", "--config", "config.toml"], ["run", "--config", "config.toml"]],
                                 writable=None, cwd=volume))
    out, err = run.communicate(timeout=120)
    assert run.returncode == 1, err
    assert len(crm.task_keys()) > 0


def test_given_a_read_only_root_then_serve_answers_healthz_and_stops_on_sigterm(open_crm, volume):
    crm = open_crm("hubspot")
    port = free_port()
    config = crm.config(f'[schedule]\nsync = "0 0 1 1 *"\n[server]\nport = {port}\n[log]\nformat = "json"\n',
                        state_url="sqlite:///.afterclose/state.db")
    shutil.copy(config, volume / "config.toml")
    server = in_namespace(read_only([["setup", "--config", "config.toml"],
                                     ["serve", "--run-now", "--config", "config.toml"]], writable=volume, cwd=volume))
    try:
        health = wait_until(lambda: (r := get(port, "/healthz")) is not None and r.json()["last_runs"] and r,
                            what="the first run to be recorded")
        assert health.status_code == 200, health.text
        server.send_signal(signal.SIGTERM)  # exec'd: the signal reaches afterclose itself
        out, err = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
    assert server.returncode == 0, err
    assert "Read-only file system" not in err
