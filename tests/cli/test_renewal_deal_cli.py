"""`afterclose check` checks where the playbooks create renewal deals against the live CRM: the
pipeline must exist, the stage must be one of that pipeline's and open; the error names the file,
the playbook and the setting."""

from __future__ import annotations

import json

from tests.builders import renewal_deal_mapping_text
from tests.cli.conftest import invoke

PLAYBOOKS = '''
[[playbook.playbooks]]
id = "renewal"
title = "Renewal deal"
when = {{ field = "deal_type", one_of = ["renewal"] }}
touch_points = ["renewal_decision"]
renewal_deal = true

[[playbook.playbooks]]
id = "new_business"
title = "New business"
touch_points = ["kickoff", "renewal_decision"]
[playbook.playbooks.create_renewal_deal]
days_before = 90
stage = "{stage}"
{pipeline}deal_type = "{deal_type}"
'''


def keyed(crm) -> str:
    """``[crm] mapping`` pointing at the built-in mapping with the renewal deal key uncommented."""
    path = crm.tmp / "mapping.toml"
    path.write_text(renewal_deal_mapping_text(crm.provider), encoding="utf-8")
    return f'mapping = "{path}"\n'


def playbooks(stage: str, pipeline: str | None, deal_type: str, days_before: int = 90) -> str:
    text = PLAYBOOKS.replace("days_before = 90", f"days_before = {days_before}")
    if deal_type == "Renewal":
        text = text.replace('["renewal"]', '["Renewal"]')
    return text.format(stage=stage, pipeline=f'pipeline = "{pipeline}"\n' if pipeline else "", deal_type=deal_type)


def test_given_hubspot_renewal_deals_in_a_closed_stage_or_another_pipelines_stage_then_check_names_them(hubspot):
    for stage, pipeline, expected in (
        ("closedwon", "default", "stage 'closedwon' of pipeline default is a closed stage"),
        ("75310247", "default", "pipeline default (Sales Pipeline) has no stage with id '75310247'"),
        ("appointmentscheduled", "renewals", "no deal pipeline with id 'renewals'"),
    ):
        config = hubspot.config(playbooks(stage, pipeline, "renewal"), crm_extra=keyed(hubspot))
        assert invoke("setup", "--config", config).exit_code == 0
        result = invoke("check", "--config", config)
        assert result.exit_code == 2, result.stdout
        assert f"playbook 'new_business': create_renewal_deal: {expected}" in result.stderr
        assert str(config) in result.stderr and "Traceback" not in result.stderr
    good = hubspot.config(playbooks("appointmentscheduled", "default", "renewal"), crm_extra=keyed(hubspot))
    result = invoke("check", "--config", good)
    assert result.exit_code == 0, result.stderr


def test_given_salesforce_renewal_deals_in_an_unknown_stage_then_check_names_it(salesforce):
    config = salesforce.config(playbooks("Prospectin", None, "Renewal"), crm_extra=keyed(salesforce))
    result = invoke("check", "--config", config)
    assert result.exit_code == 2
    assert "playbook 'new_business': create_renewal_deal: no active Opportunity stage 'Prospectin'" in result.stderr
    good = salesforce.config(playbooks("Prospecting", None, "Renewal"), crm_extra=keyed(salesforce))
    assert invoke("check", "--config", good).exit_code == 0


def test_given_renewal_deals_on_when_plan_then_each_shows_its_name_stage_close_date_and_why(hubspot):
    config = hubspot.config(playbooks("appointmentscheduled", "default", "renewal", 365), crm_extra=keyed(hubspot))
    assert invoke("setup", "--config", config).exit_code == 0
    result = invoke("plan", "--config", config, "--format", "json")
    assert result.exit_code == 0, result.stderr
    deals = [a for a in json.loads(result.stdout)["actions"] if a["kind"] == "create_deal"]
    assert deals, "no renewal deal planned"
    for action in deals:
        assert action["key"].endswith(":renewal_deal:" + action["key"].rsplit(":", 1)[1])
        assert (action["stage"], action["pipeline"], action["values"]) == ("appointmentscheduled", "default",
                                                                           {"deal_type": "renewal"})
        assert action["name"].endswith(f"renewal {action['close_date']}") and "days before it" in action["reason"]
    table = invoke("plan", "--config", config)
    assert "create deal" in table.stdout and "appointmentscheduled" in table.stdout
