"""Problems with the environment AfterClose runs in are reported as such: exit 2 with what is wrong
and what to do, never "internal error" (exit 4, a traceback). Exit 4 stays for CRM outages and
true bugs; a closed output pipe changes no exit code at all.

File modes stop nobody running as root, so when the suite runs as root the permission tests run
the real CLI without the capabilities that override them (setpriv), which is what an
unprivileged user (the image's uid 10001) meets."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import cli_env, invoke, run_cli

IMAGE_UID = 10001


def as_unprivileged(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`afterclose ARGS` with file modes in force: as root, without CAP_DAC_OVERRIDE and
    CAP_DAC_READ_SEARCH; otherwise as ourselves."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv(1): file modes cannot be put in force")
        prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
    return subprocess.run([*prefix, sys.executable, "-m", "jobs", *map(str, args)], capture_output=True,
                          text=True, timeout=60, env=cli_env(), cwd=cwd)


def expected_uid() -> int:
    return os.geteuid()


def write_config(folder: Path, body: str, mode: int = 0o644) -> Path:
    path = folder / "afterclose.toml"
    path.write_text(f'[crm]\nprovider = "hubspot"\n[hubspot]\naccess_token_file = "{folder / "token"}"\n'
                    'base_url = "http://127.0.0.1:9"\n[retry]\nattempts = 1\n' + body)
    (folder / "token").write_text("pat-na1-environment-test\n")
    (folder / "token").chmod(0o644)
    path.chmod(mode)
    return path


def assert_explained(result, *needles: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr, result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr


@pytest.mark.parametrize("command", ["check", "run", "status"])
def test_given_a_state_folder_the_user_cannot_write_then_exit_2_names_the_url_the_uid_and_what_to_do(
        tmp_path, command):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    locked.chmod(0o555)
    config = write_config(tmp_path, f'[state]\nurl = "sqlite:///{locked}/.afterclose/state.db"\n')
    result = as_unprivileged(command, "--config", config, cwd=tmp_path)
    assert_explained(result, "state.url", f"uid {expected_uid()}", str(locked), "10001")


def test_given_the_default_state_url_in_an_unwritable_working_folder_then_the_default_is_named(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    config = write_config(tmp_path, "")
    work.chmod(0o555)
    result = as_unprivileged("check", "--config", config, cwd=work)
    assert_explained(result, "sqlite:///.afterclose/state.db", f"uid {expected_uid()}", "working")


def test_given_a_config_file_the_user_cannot_read_then_exit_2_names_the_uid_and_the_docs(tmp_path):
    config = write_config(tmp_path, "", mode=0o000)
    result = as_unprivileged("check", "--config", config, cwd=tmp_path)
    assert_explained(result, str(config), "Permission denied", f"uid {expected_uid()}", "docs/operations.md")


def test_given_postgresql_without_the_postgres_extra_then_exit_2_names_the_extra_and_the_command(
        tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if psycopg were not installed
    for name in [n for n in os.environ if n.startswith("AFTERCLOSE_")]:
        monkeypatch.delenv(name)
    config = write_config(tmp_path, '[state]\nurl = "postgresql+psycopg://afterclose@127.0.0.1:1/afterclose"\n')
    monkeypatch.chdir(tmp_path)
    result = invoke("check", "--config", config)
    assert result.exit_code == 2, result.stderr
    assert "internal error" not in result.stderr
    assert "postgres" in result.stderr and "pip install 'afterclose[postgres]'" in result.stderr


def test_given_a_variable_named_like_a_section_then_exit_2_names_the_variable(tmp_path, monkeypatch):
    for name in [n for n in os.environ if n.startswith("AFTERCLOSE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AFTERCLOSE_SERVER", "x")
    config = write_config(tmp_path, "")
    result = invoke("check", "--config", config)
    assert result.exit_code == 2, result.stderr
    assert "internal error" not in result.stderr
    assert "AFTERCLOSE_SERVER" in result.stderr and "AFTERCLOSE_SERVER__" in result.stderr


@pytest.mark.parametrize("command", [["run"], ["status"], ["plan"]])
def test_given_stdout_closed_by_the_reader_then_the_exit_code_is_the_commands_own_and_no_traceback(
        hubspot, command):
    config = hubspot.config()
    assert invoke("setup", "--config", config).exit_code == 0
    if command == ["status"]:
        invoke("run", "--config", config)
    expected = run_cli(*command, "--config", config).returncode if command != ["run"] else 1
    # Like `afterclose run | head -1`, at its most abrupt: the reader is gone before the first line.
    process = subprocess.Popen([sys.executable, "-m", "jobs", *command, "--config", str(config)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env())
    process.stdout.close()
    err = process.stderr.read()
    assert process.wait(timeout=60) == expected, err
    assert "Traceback" not in err and "internal error" not in err and "BrokenPipe" not in err, err


def test_given_inline_secret_in_a_readable_config_then_check_advises_moving_it_out_or_owning_it(hubspot):
    config = hubspot.config()
    assert invoke("setup", "--config", config).exit_code == 0
    config.chmod(0o644)
    result = invoke("check", "--config", config)
    assert result.exit_code == 0, result.stderr
    warning = next(line for line in result.stdout.splitlines() if line.startswith("warning:"))
    assert "hubspot.access_token" in warning and "mode 644" in warning
    assert "Move the secrets out of the file" in warning and "_file" in warning
    assert f"readable by uid {os.geteuid()}" in warning and f"chown {os.geteuid()}" in warning
    assert "chmod 600" in warning
    assert hubspot.endpoint.token not in result.stdout + result.stderr


def test_given_keys_from_the_environment_then_check_says_where_each_value_came_from_without_secrets(
        hubspot, monkeypatch):
    for name in [n for n in os.environ if n.startswith("AFTERCLOSE_")]:
        monkeypatch.delenv(name)
    config = hubspot.config('[server]\nhost = "0.0.0.0"\nport = 9108\n',
                            connection=f'[hubspot]\nbase_url = "{hubspot.endpoint.base_url}"\n')
    monkeypatch.setenv("AFTERCLOSE_SERVER__PORT", "9200")
    monkeypatch.setenv("AFTERCLOSE_HUBSPOT__ACCESS_TOKEN", hubspot.endpoint.token)
    monkeypatch.setenv("AFTERCLOSE_LOG__LEVEL", "warning")
    assert invoke("setup", "--config", config).exit_code == 0
    result = invoke("check", "--config", config)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "server.host = 0.0.0.0 (from the config file)" in lines
    assert "server.port = 9200 (from AFTERCLOSE_SERVER__PORT, over the config file's 9108)" in lines
    assert "hubspot.access_token (from AFTERCLOSE_HUBSPOT__ACCESS_TOKEN; a secret, not shown)" in lines
    assert "log.level = warning (from AFTERCLOSE_LOG__LEVEL)" in lines
    assert hubspot.endpoint.token not in result.stdout + result.stderr
