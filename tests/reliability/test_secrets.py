"""Secrets: a canary value in every credential field never shows up in an error AfterClose
raises, in the run history it stores, in its logs or in its metrics, even when the CRM (or a
proxy in front of it) echoes the credential back in its answer.

The CLI's own output is tested in tests/cli; these are the library paths underneath it.
"""

from __future__ import annotations

import io
import json

import pytest

from connector.errors import AfterCloseError, CrmError
from connector.mapping import builtin_mapping, load_mapping
from connector.retry import RetrySettings
from jobs import logs
from jobs.serve import metrics
from jobs.state import StateStore, open_store
from jobs.core.playbook import DEFAULT_PLAYBOOK
from jobs.sync import SyncJob, run_sync
from tests.reliability import figures
from tests.reliability.crm import NOW, build_adapter
from tests.reliability.stubs import echo_server

NO_WAIT = RetrySettings(attempts=2, base_seconds=0.001, max_seconds=0.001)


def canary(field: str) -> str:
    return f"canary-{field}-9f3a1c77"


def hubspot_values(base_url: str, *, oauth: bool) -> dict:
    if oauth:
        return {"base_url": base_url, "client_id": "client-id", "client_secret": canary("client_secret"),
                "refresh_token": canary("refresh_token"), "timeout_seconds": 5}
    return {"base_url": base_url, "access_token": canary("access_token"), "timeout_seconds": 5}


def salesforce_values(server, *, login: bool) -> dict:
    common = {"ca_bundle": str(server.tls.ca_path), "timeout_seconds": 5}
    if login:
        return common | {"domain": server.base_url, "username": "integration@example.com",
                         "password": canary("password"), "security_token": canary("security_token")}
    return common | {"instance_url": server.base_url, "access_token": canary("access_token")}


CASES = [  # (provider, credential flavour, status the hostile server answers)
    ("hubspot", "token", 400), ("hubspot", "token", 401), ("hubspot", "token", 500),
    ("hubspot", "oauth", 400), ("salesforce", "token", 400), ("salesforce", "token", 403),
    ("salesforce", "token", 500), ("salesforce", "login", 500),
]


@pytest.fixture
def captured_logs():
    stream = io.StringIO()
    logs.configure("debug", "json", stream=stream)
    yield stream
    logs.configure("warning", "json")


@pytest.mark.parametrize(("provider", "flavour", "status"), CASES, ids=[f"{p}-{f}-{s}" for p, f, s in CASES])
def test_given_crm_echoing_credentials_then_no_secret_in_errors_run_history_logs_or_metrics(
        provider, flavour, status, tmp_path, captured_logs):
    secret_login = flavour in ("oauth", "login")
    with echo_server(status, tls=provider == "salesforce") as server:
        values = (hubspot_values(server.base_url, oauth=secret_login) if provider == "hubspot"
                  else salesforce_values(server, login=secret_login))
        logs.register_secrets(v for k, v in values.items() if "canary" in str(v))
        fieldmap = load_mapping(builtin_mapping(provider))
        with build_adapter(provider, values, fieldmap, retry=NO_WAIT, page_size=50) as adapter, \
                open_store(f"sqlite:///{tmp_path / 'state.db'}") as store:
            with pytest.raises(AfterCloseError) as raised:
                run_sync(SyncJob(scope=f"{provider}:secrets", adapter=adapter, store=store, fieldmap=fieldmap,
                                 playbook=DEFAULT_PLAYBOOK, clock=lambda: NOW))
            history = json.dumps([run.__dict__ for run in store.recent_runs(None)], default=str)
    logs.get_logger("afterclose.test").error("run_failed", error=raised.value)
    places = {
        "exception text": f"{type(raised.value).__name__}: {raised.value}",
        "run history": history,
        "logs": captured_logs.getvalue(),
        "metrics": metrics.render().decode(),
    }
    leaks = {where: text for where, text in places.items() if "canary-" in text}
    figures.record("secrets", provider=provider, flavour=flavour, status=status, leaks=len(leaks))
    assert isinstance(raised.value, CrmError)
    assert not leaks, f"secret leaked into {sorted(leaks)}: {next(iter(leaks.values()))[:300]}"


@pytest.mark.parametrize("provider", ["hubspot", "salesforce"])
def test_given_crm_refusal_echoing_the_token_then_no_table_of_the_state_database_holds_it(
        provider, tmp_path, monkeypatch):
    """A CRM (or a proxy in front of it) that puts the Authorization header into a record's refusal:
    the run history, the rejected records and every other table keep the CRM's words, masked."""
    from sqlalchemy import create_engine, inspect, text

    from connector.sandbox.demo import demo_dataset
    from tests.reliability.crm import ANCHOR, open_crm
    from tests.reliability.runs import run_here
    from tests.reliability.test_rejected_records import add_validation_rule

    token = canary("refusal-token")
    logs.register_secrets([token])
    store_url = f"sqlite:///{tmp_path / 'state.db'}"
    with open_crm(provider, demo_dataset(anchor=ANCHOR), page_size=20) as crm:
        victim = sorted(crm._harness().won_deal_ids())[3]  # noqa: SLF001
        add_validation_rule(crm, victim, monkeypatch,
                            message=f"Rule failed for request with Authorization: Bearer {token}")
        report = run_here(crm, store_url)
    assert any(token in (r.message or "") for r in report.rejected), "the CRM did not echo the token"
    engine = create_engine(store_url)
    found = {}
    with engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            rows = conn.execute(text(f'SELECT * FROM "{table}"')).all()
            dump = " ".join(str(value) for row in rows for value in row)
            if "canary-" in dump:
                found[table] = dump[dump.index("canary-") - 60:][:160]
            if table == "afterclose_rejected":
                masked = [row for row in rows if logs.MASK in " ".join(map(str, row))]
    engine.dispose()
    figures.record("secrets_in_state", provider=provider, tables_with_secret=len(found))
    assert found == {}, f"the token reached the state database: {found}"
    assert masked, "the refusal is no longer kept with the CRM's (masked) words"
