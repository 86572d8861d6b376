"""The choices made visible: `plan` shows each deal's playbook and why, `status --deal` its playbook
history, the demo its deals per playbook and one task as the rep sees it; a playbook mistake stops
every command before the CRM is called."""

from __future__ import annotations

import json

from tests.cli.conftest import invoke

RENEWAL_DEAL = "Hooli - Renewal (3rd year)"


def test_given_plan_then_each_deal_shows_its_playbook_why_and_its_check_ups_next_dates(crm):
    config = crm.config()
    invoke("setup", "--config", config)
    body = json.loads(invoke("plan", "--config", config, "--format", "json").stdout)
    deals = {d["deal_name"]: d for d in body["deals"]}
    assert body["summary"]["playbooks"] == {"expansion": 7, "new_business": 33, "renewal": 2}
    renewal = deals[RENEWAL_DEAL]
    assert renewal["playbook"] == "renewal" and renewal["why"].startswith("deal_type is ")
    assert len(renewal["next"]["health_check"]) == 3
    first = deals["Hooli - Platform (first contract)"]
    assert first["next"] == {"health_check": []}  # its customer's renewal deal carries the check-ups now
    assert any("carries this customer's renewals" in note for note in first["notes"])
    table = invoke("plan", "--config", config)
    assert "Playbooks (" in table.stdout and "which one each deal gets, and why" in table.stdout
    assert "no other playbook's condition holds" in table.stdout


def test_given_runs_then_status_deal_names_the_deals_playbook_and_why(crm):
    config = crm.config()
    invoke("setup", "--config", config)
    invoke("run", "--config", config)
    deal_id = crm.deal_id(RENEWAL_DEAL)
    table = invoke("status", "--config", config, "--deal", deal_id)
    assert table.exit_code == 0
    assert "Playbook: renewal since" in table.stdout and "a renewal deal: it carries its customer's renewals" \
        in table.stdout
    body = json.loads(invoke("status", "--config", config, "--deal", deal_id, "--format", "json").stdout)
    assert body["playbook"]["id"] == "renewal" and body["playbook"]["renewal_deal"] is True


def test_given_a_playbook_file_with_a_condition_on_an_unmapped_field_then_every_command_stops_naming_it(hubspot):
    playbooks = hubspot.tmp / "playbooks.toml"
    playbooks.write_text('[[playbooks]]\nid = "vip"\ntitle = "VIP"\nwhen = { field = "tier", equals = "gold" }\n'
                         'touch_points = ["kickoff"]\n[[playbooks]]\nid = "rest"\ntitle = "Rest"\n'
                         'touch_points = ["kickoff"]\n', encoding="utf-8")
    config = hubspot.config(f'[playbook]\nfile = "{playbooks}"\n')
    for command in ("check", "plan", "run"):
        result = invoke(command, "--config", config)
        assert result.exit_code == 2, result.stdout + result.stderr
        assert f"{playbooks}: playbooks[0].when.field: playbook 'vip': the condition tests 'tier'" in result.stderr
        assert "Traceback" not in result.stderr
    assert hubspot.total_calls() == 0


def test_demo_shows_deals_per_playbook_and_one_task_as_the_rep_sees_it():
    result = invoke("demo", "--provider", "hubspot")
    assert result.exit_code == 0, result.stderr
    out = " ".join(result.stdout.split())  # the console wraps long lines
    assert "Deals per playbook" in out and "new_business" in out and "expansion" in out
    assert "Renewal deals carry their customer's renewal ladder (Hooli - Renewal (3rd year))" in out
    assert "One task as the rep sees it" in out and "| Why this task: Kickoff call, 2 business days after" in out
