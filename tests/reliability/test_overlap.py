"""Overlap: two `afterclose run` processes started together against one CRM and one state store.
One runs; the other finds the lock held and exits 3 at once; no task is created twice.

Both state backends: SQLite (an flock'd lock file next to the database) and PostgreSQL (a session
advisory lock). The CRM's first write answers after 4 seconds, so the run that got the lock
still holds it when the other one (a second or two of start-up later) asks for it: whichever
process wins, the race cannot end with both running one after the other.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from connector.sandbox.controls import FaultKind
from connector.sandbox.demo import demo_dataset
from tests.reliability import figures
from tests.reliability.crm import ANCHOR, SandboxCrm, open_crm

LOCK_HELD = 3


def config_text(crm: SandboxCrm, state_url: str) -> str:
    if crm.provider == "hubspot":
        crm_section = (f'[hubspot]\naccess_token = "{crm.endpoint.token}"\nbase_url = "{crm.endpoint.base_url}"\n'
                       "rate_limit_per_10s = 2000\nsearch_per_second = 100\nsettle_seconds = 0\n")
    else:
        crm_section = (f'[salesforce]\ninstance_url = "{crm.endpoint.base_url}"\n'
                       f'access_token = "{crm.endpoint.token}"\nca_bundle = "{crm.endpoint.ca_path}"\n')
    return (f'[crm]\nprovider = "{crm.provider}"\n\n{crm_section}\n[state]\nurl = "{state_url}"\n\n'
            '[log]\nformat = "json"\nlevel = "warning"\n')


def start_run(config: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERCLOSE_")}
    return subprocess.Popen([sys.executable, "-m", "jobs", "run", "--config", str(config)], cwd=config.parent,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def two_runs_at_once(provider: str, state_url: str, tmp_path: Path) -> list[tuple[int, str]]:
    with open_crm(provider, demo_dataset(anchor=ANCHOR), latency=0.02) as crm:
        first_write = "*batch/create" if crm.provider == "hubspot" else "collections_*"
        crm.sandbox.controls.add_fault(FaultKind.SLOW, endpoint=first_write, count=1, seconds=4.0)
        config = tmp_path / "afterclose.toml"
        config.write_text(config_text(crm, state_url))
        config.chmod(0o600)
        runs = [start_run(config), start_run(config)]
        finished = [(run.wait(timeout=120), run.stderr.read()) for run in runs]
        duplicates = crm.snapshot().duplicates
    codes = sorted(code for code, _ in finished)
    figures.record("overlap", crm=provider, backend=state_url.split(":")[0], exit_codes=codes,
                   duplicates=duplicates)
    assert duplicates == 0
    return finished


def assert_one_ran_and_one_refused(finished: list[tuple[int, str]]) -> None:
    codes = sorted(code for code, _ in finished)
    assert codes[1] == LOCK_HELD and codes[0] in (0, 1), finished
    refused = next(err for code, err in finished if code == LOCK_HELD)
    assert "lock" in refused.lower()
    assert "Traceback" not in refused


# Each CRM on each backend; one pairing per backend in `make test`, the other two in `make soak`.
@pytest.mark.parametrize("provider", ["hubspot-refuse", pytest.param("hubspot-grant", marks=pytest.mark.slow),
                                      pytest.param("salesforce", marks=pytest.mark.slow)])
def test_given_two_runs_started_together_on_sqlite_then_one_runs_and_the_other_exits_3(provider, tmp_path):
    assert_one_ran_and_one_refused(two_runs_at_once(provider, f"sqlite:///{tmp_path / 'state.db'}", tmp_path))


@pytest.mark.postgres
@pytest.mark.parametrize("provider", [pytest.param("hubspot-refuse", marks=pytest.mark.slow),
                                      pytest.param("hubspot-grant", marks=pytest.mark.slow), "salesforce"])
def test_given_two_runs_started_together_on_postgres_then_one_runs_and_the_other_exits_3(provider, pg_url, tmp_path):
    assert_one_ran_and_one_refused(two_runs_at_once(provider, pg_url, tmp_path))
