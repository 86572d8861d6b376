"""Secrets: a canary value in every credential field never shows up in an error AfterClose
raises, in the run history it stores, in its logs or in its metrics, even when the CRM (or a
proxy in front of it) echoes the credential back in its answer.

The CLI's own output is tested in tests/cli; these are the library paths underneath it.
"""

from __future__ import annotations

import base64
import io
import json

import pytest

from connector.errors import AfterCloseError, CrmError
from connector.mapping import builtin_mapping, load_mapping
from connector.retry import RetrySettings
from jobs import logs
from jobs.core.playbook import DEFAULT_PLAYBOOK
from jobs.serve import metrics
from jobs.state import open_store
from jobs.sync import SyncJob, run_sync
from tests.reliability import figures
from tests.reliability.crm import NOW, build_adapter
from tests.reliability.stubs import echo_server

NO_WAIT = RetrySettings(attempts=2, base_seconds=0.001, max_seconds=0.001)


ESCAPED = '"&<é>/+% x'
"""Characters a form body, an XML envelope, JSON and repr each write differently: a secret holding
them reaches an echoed error only in escaped form (URL-encoded, XML-escaped, twice over)."""


def canary(field: str, style: str = "plain") -> str:
    return f"canary-{field}-9f3a1c77" + (ESCAPED if style == "escaped" else "")


def hubspot_values(base_url: str, *, oauth: bool, style: str = "plain") -> dict:
    if oauth:
        return {"base_url": base_url, "client_id": "client-id", "client_secret": canary("client_secret", style),
                "refresh_token": canary("refresh_token", style), "timeout_seconds": 5}
    return {"base_url": base_url, "access_token": canary("access_token", style), "timeout_seconds": 5}


def salesforce_values(server, *, login: bool, style: str = "plain", flavour: str = "login") -> dict:
    common = {"ca_bundle": str(server.tls.ca_path), "timeout_seconds": 5}
    if flavour == "client_credentials":  # the secret travels as Basic base64(key:secret)
        return common | {"domain": server.base_url, "consumer_key": "afterclose-app",
                         "consumer_secret": canary("consumer_secret", style)}
    if login:
        return common | {"domain": server.base_url, "username": "integration@example.com",
                         "password": canary("password", style), "security_token": canary("security_token", style)}
    return common | {"instance_url": server.base_url, "access_token": canary("access_token", style)}


CASES = [  # (provider, credential flavour, status the hostile server answers, canary style)
    ("hubspot", "token", 400, "plain"), ("hubspot", "token", 401, "plain"), ("hubspot", "token", 500, "plain"),
    ("hubspot", "oauth", 400, "plain"), ("salesforce", "token", 400, "plain"), ("salesforce", "token", 403, "plain"),
    ("salesforce", "token", 500, "plain"), ("salesforce", "login", 500, "plain"),
    # Secrets that travel escaped: the OAuth form body (URL-encoded) and the SOAP envelope (XML).
    ("hubspot", "oauth", 400, "escaped"), ("salesforce", "login", 500, "escaped"),
    ("salesforce", "client_credentials", 400, "plain"),
]


@pytest.fixture
def captured_logs():
    stream = io.StringIO()
    logs.configure("debug", "json", stream=stream)
    yield stream
    logs.configure("warning", "json")


@pytest.mark.parametrize(("provider", "flavour", "status", "style"), CASES,
                         ids=[f"{p}-{f}-{s}-{c}" for p, f, s, c in CASES])
def test_given_crm_echoing_credentials_then_no_secret_in_errors_run_history_logs_or_metrics(
        provider, flavour, status, style, tmp_path, captured_logs):
    secret_login = flavour in ("oauth", "login", "client_credentials")
    with echo_server(status, tls=provider == "salesforce") as server:
        values = (hubspot_values(server.base_url, oauth=secret_login, style=style) if provider == "hubspot"
                  else salesforce_values(server, login=secret_login, style=style, flavour=flavour))
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
    basic = base64.b64encode(f"afterclose-app:{canary('consumer_secret', style)}".encode()).decode()
    leaks = {where: text for where, text in places.items() if "canary-" in text or basic in text}
    figures.record("secrets", provider=provider, flavour=flavour, status=status, style=style, leaks=len(leaks))
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
        victim = sorted(crm._harness().won_deal_ids())[3]
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
