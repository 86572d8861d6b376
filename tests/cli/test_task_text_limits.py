"""Every text AfterClose writes fits its CRM field (HubSpot 65,536 characters; Salesforce
Subject 255, Description 32,000) with a visible marker, HubSpot task bodies are HTML, and a
re-run compares like with like: nothing is rewritten."""

from __future__ import annotations

import datetime as dt
import json
from csv import writer

from connector.rich_text import ALLOWED_TAGS, from_html
from connector.sandbox.demo import demo_dataset
from connector.text_limits import MARKER
from jobs.nps import write_demo_csv
from tests.cli.conftest import invoke, on
from tests.unit.test_rich_text_and_limits import parsed

LIMIT = {"hubspot": 65_536, "salesforce": 32_000}


def task_bodies(crm, deal_id: str | None = None) -> dict[str, str]:
    """Task key -> body as the CRM stores it (HubSpot: HTML as sent; Salesforce: Description)."""
    if crm.provider == "hubspot":
        tasks = {t["properties"]["afterclose_key"]: t["properties"].get("hs_task_body") or ""
                 for t in crm.sandbox.records("tasks") if t["properties"].get("afterclose_key")}
    else:
        tasks = {t["AfterClose_Key__c"]: t.get("Description") or ""
                 for t in crm.sandbox.records("Task") if t.get("AfterClose_Key__c")}
    return {k: v for k, v in tasks.items() if deal_id is None or f":{deal_id}:" in k}


def readable(crm, body: str) -> str:
    return from_html(body) if crm.provider == "hubspot" else body


def _first_planned_deal(config) -> str:
    body = json.loads(invoke("plan", "--config", config, "--format", "json").stdout)
    return next(a["deal_id"] for a in body["actions"] if a["kind"] == "create_task" and a["touch_point"] == "kickoff")


@on("hubspot", "salesforce")
def test_given_handoff_fields_longer_than_a_task_body_holds_then_tasks_are_created_cut_with_the_marker(crm):
    """Each task is created, not refused; its body fits, holds the marker, and keeps its last
    paragraph (why the task exists); the next run rewrites nothing."""
    config = crm.config()
    invoke("setup", "--config", config)
    deal_id = _first_planned_deal(config)
    size = LIMIT[crm.provider] // 2 + 100  # each fits its own field; together the body is over the limit
    crm.set_deal_field(deal_id, "customer_goal", "Grow & keep <every> seat. " * (size // 26))
    crm.set_deal_field(deal_id, "decision_criteria", "Price & \"SSO\" <first>. " * (size // 24))
    first = invoke("run", "--config", config)
    assert first.exit_code in (0, 1), first.stderr
    status = json.loads(invoke("status", "--config", config, "--format", "json").stdout)
    assert not [r for r in status["rejected"] if r["deal_id"] == deal_id]  # nothing refused for this deal
    bodies = task_bodies(crm, deal_id)
    cut = {key: readable(crm, body) for key, body in bodies.items() if MARKER in readable(crm, body)}
    assert cut and all(len(body) <= LIMIT[crm.provider] for body in bodies.values())
    assert all("Why this task:" in shown.partition(MARKER)[2] for shown in cut.values())  # the end is kept
    if crm.provider == "hubspot":
        for body in bodies.values():  # rich text, well-formed after the cut
            assert body.startswith("<p>") and {tag for tag, _ in parsed(body).tags} <= ALLOWED_TAGS

    writes = crm.write_calls()
    again = invoke("run", "--config", config)
    assert again.exit_code in (0, 1)
    assert "updated" not in json.dumps(_last_run_counts(config))
    assert task_bodies(crm, deal_id) == bodies
    assert crm.write_calls() - writes <= len(status["rejected"])  # only the refusals are retried


def _last_run_counts(config) -> dict:
    return json.loads(invoke("status", "--config", config, "--format", "json").stdout)["runs"][0]["counts"]


def test_given_hubspot_then_task_bodies_are_html_and_a_second_run_updates_nothing(hubspot):
    config = hubspot.config()
    invoke("setup", "--config", config)
    invoke("run", "--config", config)
    bodies = task_bodies(hubspot)
    assert bodies and all(b.startswith("<p>") for b in bodies.values())
    assert any("<ul><li>" in b for b in bodies.values()) and any("<br>" in b for b in bodies.values())
    invoke("run", "--config", config)
    assert "updated" not in _last_run_counts(config)
    assert task_bodies(hubspot) == bodies


def test_given_hubspot_html_bodies_when_the_state_database_is_lost_then_the_tasks_are_adopted_unchanged(hubspot):
    config = hubspot.config()
    invoke("setup", "--config", config)
    invoke("run", "--config", config)
    bodies = task_bodies(hubspot)
    (hubspot.tmp / "state.db").unlink()
    invoke("run", "--config", config)
    counts = _last_run_counts(config)
    assert "updated" not in counts and "created" not in counts, counts  # the HTML read back equals the plan
    assert task_bodies(hubspot) == bodies


@on("hubspot", "salesforce")
def test_given_an_nps_comment_over_65_kb_then_the_follow_up_task_is_created_cut_and_a_rerun_changes_nothing(crm):
    csv = write_demo_csv(demo_dataset(), crm.tmp / "nps.csv")
    response = next(r for r in demo_dataset().nps_responses if r.score in (7, 8))  # a passive turns detractor
    responded = (response.responded_at + dt.timedelta(hours=1)).isoformat()
    comment = "Too slow & <buggy>, \"support\" never answers. " * 1_500  # ~70,000 characters
    assert len(comment) > 65_536
    with csv.open("a", newline="", encoding="utf-8") as handle:
        writer(handle).writerow(["r-long-1", response.email, 2, responded, comment])
    config = crm.config(f'[nps]\nsource = "csv"\npath = "{csv}"\n')
    assert invoke("setup", "--config", config).exit_code == 0
    result = invoke("run", "--config", config, "--job", "nps")
    assert "rejected" not in result.stdout.replace("0 rejected", ""), result.stdout
    follow_ups = {k: b for k, b in task_bodies(crm).items() if "detractor" in k}
    cut = [b for b in follow_ups.values() if MARKER in readable(crm, b)]
    assert cut and all(len(b) <= LIMIT[crm.provider] for b in follow_ups.values())

    writes = crm.write_calls()
    again = invoke("run", "--config", config, "--job", "nps")
    assert again.exit_code == 0, again.stdout + again.stderr
    assert crm.write_calls() == writes
