"""Secrets with stray whitespace, through the real CLI on both CRMs: a token pasted with a
trailing newline into a variable (``$'...\\n'``) or a secret file works, because secrets are
stripped where settings are read; a token with a line break *inside* is refused naming the key.
Either way the canary never appears in stdout, stderr (the log), or any table of the state
database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.cli.conftest import cli_env, run_cli

CANARY = "canary-ws-5d0b7e21c4"
HEAD, TAIL = "canary-head-41a7c9", "tail-93be0c2d"
"""The two halves of a token with a line break inside: neither half may show anywhere."""


def connection(crm, *, token_file: Path | None = None) -> str:
    token = f'access_token_file = "{token_file}"\n' if token_file else ""
    if crm.provider == "hubspot":
        # The sandbox shows a create at once: no settle delay (a real portal keeps the default).
        return f'[hubspot]\nbase_url = "{crm.endpoint.base_url}"\nsettle_seconds = 0\n{token}'
    return f'[salesforce]\ninstance_url = "{crm.endpoint.base_url}"\nca_bundle = "{crm.endpoint.ca_path}"\n{token}'


def token_variable(crm) -> str:
    return f"AFTERCLOSE_{crm.provider.upper()}__ACCESS_TOKEN"


def state_tables(path: Path) -> str:
    """Every row of every table, as text."""
    with sqlite3.connect(path) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        assert "afterclose_runs" in tables
        return "\n".join(f"{table}: {db.execute(f'SELECT * FROM {table}').fetchall()!r}" for table in tables)


def assert_nowhere(secrets: tuple[str, ...], outputs: dict[str, str], crm) -> None:
    places = dict(outputs)
    database = crm.tmp / "state.db"
    if database.exists():
        places["every table of the state database"] = state_tables(database)
        for path in crm.tmp.glob("state.db*"):
            places[f"the file {path.name}"] = path.read_bytes().decode("utf-8", "replace")
    for where, text in places.items():
        for secret in secrets:
            assert secret not in text, f"{secret} leaked into {where}"


@pytest.mark.parametrize("provider", ["hubspot", "salesforce"])
@pytest.mark.parametrize("given_as", ["variable", "file"])
def test_given_token_with_surrounding_whitespace_then_commands_work_and_it_shows_nowhere(
        open_crm, provider, given_as):
    crm = open_crm(provider, token=CANARY)
    padded = f"  {CANARY}\r\n\n"
    env = cli_env()
    if given_as == "variable":
        env[token_variable(crm)] = padded
        config = crm.config('[log]\nformat = "json"\nlevel = "debug"\n', connection=connection(crm))
    else:
        secret = crm.tmp / "token"
        secret.write_text(padded)
        config = crm.config('[log]\nformat = "json"\nlevel = "debug"\n', connection=connection(crm, token_file=secret))
    outputs = {}
    for command in (["setup"], ["run"], ["status", "--format", "json"]):
        result = run_cli(*command, "--config", config, env=env)
        assert result.returncode in (0, 1), (command, result.stderr[-2000:])
        outputs[f"afterclose {command[0]} (stdout)"] = result.stdout
        outputs[f"afterclose {command[0]} (stderr, the log)"] = result.stderr
    assert '"run_finished"' in outputs["afterclose run (stderr, the log)"]  # the log was there to search
    assert_nowhere((CANARY,), outputs, crm)


@pytest.mark.parametrize("provider", ["hubspot", "salesforce"])
@pytest.mark.parametrize("given_as", ["variable", "file"])
def test_given_token_with_a_line_break_inside_then_exit_2_names_the_key_and_it_shows_nowhere(
        open_crm, provider, given_as):
    crm = open_crm(provider)
    broken = f"{HEAD}\n{TAIL}\n"
    env = cli_env()
    if given_as == "variable":
        env[token_variable(crm)] = broken
        config = crm.config(connection=connection(crm))
    else:
        secret = crm.tmp / "token"
        secret.write_text(broken)
        config = crm.config(connection=connection(crm, token_file=secret))
    result = run_cli("check", "--config", config, env=env)
    assert result.returncode == 2, result.stderr
    assert f"{provider}.access_token" in result.stderr and "line break" in result.stderr
    assert "internal error" not in result.stderr
    outputs = {"afterclose check (stdout)": result.stdout, "afterclose check (stderr, the log)": result.stderr}
    assert crm.total_calls() == 0  # refused before the CRM was asked anything
    assert_nowhere((HEAD, TAIL), outputs, crm)
