"""A second client keeps the Salesforce sandbox honest: jsforce (pinned in tests/sandbox/jsforce,
installed by `make test` with `npm ci`) drives the sandbox the way its users write code, and each of
its checks is a test here, so a failing one is named.

The script (tests/sandbox/jsforce/conformance.js) prints one JSON line per check; this module starts
the sandboxes (a demo org, and a second org with a small daily API limit), runs ``node`` once with
their addresses in the environment and the test CAs in NODE_EXTRA_CA_CERTS, and asserts per check.
Sources: each check's behaviour is cited in docs/salesforce-api-notes.md; jsforce's own code
(login, refresh on 401, collections, tooling) is jsforce 3.10.16, the version package-lock.json pins.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from connector.sandbox.demo import demo_dataset
from connector.sandbox.salesforce import INTEGRATION_USERNAME, SalesforceSandbox
from tests.sandbox.salesforce_fixtures import SF_ANCHOR

PROJECT = Path(__file__).parent / "jsforce"
SCRIPT = PROJECT / "conformance.js"
EXTRA_TASKS = 450  # with 200-record pages, autoFetch has to follow nextRecordsUrl twice
LIMITED_DAILY_CALLS = 5

CHECKS = [
    "soap_login_user_info", "soap_login_default_version", "soap_login_wrong_password", "oauth_password_login",
    "oauth_wrong_client_secret", "identity_after_soap_login", "identity_from_token_only",
    "session_refresh_after_soap_login", "session_refresh_after_oauth_login", "expired_session_without_refresh",
    "soap_logout", "oauth_logout_revokes", "versions_and_limits",
    "query_auto_fetch_pages", "query_more_by_hand", "query_stream_records", "query_all_sees_deleted",
    "find_with_builder", "find_like_in_not_and_or", "find_date_literals", "count_and_find_one",
    "relationship_fields", "child_subquery_with_include", "nested_child_subqueries_v58", "query_explain",
    "describe_and_describe_global",
    "create_retrieve_update_destroy_single", "collections_create_retrieve_update_destroy",
    "collections_all_or_none_rolls_back", "upsert_single_and_many_by_external_id", "updated_and_deleted",
    "error_unknown_field_in_query", "error_unknown_field_in_create", "error_malformed_query_and_unknown_object",
    "error_duplicate_external_id", "error_required_field_missing", "error_daily_limit_exceeded",
    "tooling_custom_field_then_permission_set_grants_it",
]


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH: the jsforce conformance suite needs Node.js 18 or later")
    if not (PROJECT / "node_modules" / "jsforce" / "package.json").exists():
        pytest.fail(f"jsforce is not installed in {PROJECT}/node_modules: run `make test` (it runs "
                    f"`npm ci --prefix {PROJECT.relative_to(Path.cwd()) if PROJECT.is_relative_to(Path.cwd()) else PROJECT}`)")
    return node


def _demo_org() -> SalesforceSandbox:
    sandbox = SalesforceSandbox(page_size=200)
    sandbox.load(demo_dataset(anchor=SF_ANCHOR))
    for n in range(EXTRA_TASKS):
        sandbox.store.insert_raw("Task", {"Subject": f"seeded task {n:03d}", "Status": "Not Started",
                                          "Priority": "Normal"})
    return sandbox


@pytest.fixture(scope="module")
def jsforce_run(tmp_path_factory):
    node = _node()
    main, limited = _demo_org(), SalesforceSandbox(daily_limit=LIMITED_DAILY_CALLS, token="limited-token")
    with main.serve() as endpoint, limited.serve() as limited_endpoint:
        bundle = tmp_path_factory.mktemp("jsforce-ca") / "cas.pem"
        bundle.write_text(endpoint.ca_path.read_text() + limited_endpoint.ca_path.read_text())
        credentials = main.users_credentials[INTEGRATION_USERNAME]
        env = {
            "PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", str(tmp_path_factory.getbasetemp())),
            "NODE_EXTRA_CA_CERTS": str(bundle), "NO_PROXY": "127.0.0.1,localhost",
            "SF_URL": endpoint.base_url, "SF_TOKEN": endpoint.token, "SF_USERNAME": INTEGRATION_USERNAME,
            "SF_PASSWORD": credentials.password + (credentials.security_token or ""),
            "SF_CLIENT_ID": main.connected_app.client_id, "SF_CLIENT_SECRET": main.connected_app.client_secret,
            "SF_ORG_ID": main.org_id, "SF_USER_ID": main.user_id,
            "SF_LIMITED_URL": limited_endpoint.base_url, "SF_LIMITED_TOKEN": limited_endpoint.token,
        }
        completed = subprocess.run([node, str(SCRIPT)], env=env, cwd=PROJECT, capture_output=True, text=True,
                                   timeout=120)
    lines = [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]
    return {"returncode": completed.returncode, "stderr": completed.stderr[-4000:],
            "results": {line["check"]: line for line in lines}}


def test_given_the_script_then_it_runs_exactly_the_listed_checks(jsforce_run):
    assert jsforce_run["returncode"] == 0, jsforce_run["stderr"]
    assert list(jsforce_run["results"]) == CHECKS


@pytest.mark.parametrize("check", CHECKS)
def test_given_jsforce_check_then_it_passes_against_the_sandbox(jsforce_run, check):
    result = jsforce_run["results"].get(check)
    assert result is not None, f"{check} did not run; node stderr:\n{jsforce_run['stderr']}"
    assert result["ok"], f"{check} failed:\n{result['detail']}"


def test_given_the_lock_file_then_this_module_and_the_notes_name_the_pinned_jsforce_version():
    # The version a reader is told must be the one `npm ci` installs: package.json, package-lock.json,
    # this docstring and docs/salesforce-api-notes.md name the same release.
    import re

    declared = json.loads((PROJECT / "package.json").read_text())["dependencies"]["jsforce"]
    locked = json.loads((PROJECT / "package-lock.json").read_text())["packages"]["node_modules/jsforce"]["version"]
    assert declared == locked
    notes = (Path(__file__).parents[2] / "docs" / "salesforce-api-notes.md").read_text()
    named = set(re.findall(r"jsforce (\d+\.\d+\.\d+)", (__doc__ or "") + notes))
    assert named == {locked}, f"jsforce versions named in the docs: {sorted(named)}; package-lock pins {locked}"
