"""``create_renewal_deal`` on a playbook: read into the core's rule, and every mistake named by
file, playbook and key before anything is read from or written to the CRM."""

from __future__ import annotations

import pytest

from connector.model import Provider
from jobs.core.renewal_deals import RenewalDealRule
from tests.builders import renewal_deal_mapping
from tests.jobs.test_playbooks_config import FIELDMAP, clean_environment  # noqa: F401
from tests.jobs.test_playbooks_config import built as built_with
from tests.jobs.test_playbooks_config import refused as refused_with

KEYED = renewal_deal_mapping(Provider.HUBSPOT)
"""The built-in HubSpot mapping with the renewal deal key field uncommented."""


def built(tmp_path, text, fieldmap=KEYED):
    return built_with(tmp_path, text, fieldmap)


def refused(tmp_path, text, fieldmap=KEYED):
    return refused_with(tmp_path, text, fieldmap)

PLAYBOOKS = '''
[[playbook.playbooks]]
id = "renewal"
title = "Renewal deal"
when = {{ field = "deal_type", equals = "renewal" }}
touch_points = ["renewal_decision"]
renewal_deal = true

[[playbook.playbooks]]
id = "new_business"
title = "New business"
touch_points = ["kickoff", "renewal_decision"]
[playbook.playbooks.create_renewal_deal]
{setting}
'''
GOOD = 'days_before = 90\nstage = "appointmentscheduled"\npipeline = "default"\ndeal_type = "renewal"'


def test_given_the_setting_then_the_playbook_carries_the_rule(tmp_path):
    playbooks = built(tmp_path, PLAYBOOKS.format(setting=GOOD + '\nowner = "77"'))
    new_business = playbooks.set.playbooks[1]
    assert new_business.create_renewal_deal == RenewalDealRule(days_before=90, stage="appointmentscheduled",
                                                               pipeline="default", owner="77", deal_type="renewal")
    assert playbooks.set.playbooks[0].create_renewal_deal is None


@pytest.mark.parametrize(("setting", "key", "words"), [
    ('days_before = 90\nstage = "s1"\ndeal_type = "renewal"', "create_renewal_deal.pipeline",
     "name the pipeline the stage 's1' belongs to"),
    (GOOD + '\namount_field = "arr"', "create_renewal_deal.amount_field", "amount_field 'arr' is not a deal field"),
    ('days_before = 90\nstage = "s1"\npipeline = "default"', "create_renewal_deal",
     "would get playbook 'new_business' once won"),
    ('days_before = 90\nstage = "s1"\npipeline = "default"\ndeal_type = "existingbusiness"', "create_renewal_deal",
     "not for renewal deals"),
])
def test_given_a_bad_setting_then_the_error_names_the_file_the_playbook_and_the_key(tmp_path, setting, key, words):
    error = refused(tmp_path, PLAYBOOKS.format(setting=setting))
    assert f"playbook.playbooks[1].{key}" in str(error) and "playbook 'new_business'" in str(error)
    assert words in str(error) and "config.toml" in str(error)


def test_given_days_before_negative_then_the_settings_refuse_it(tmp_path):
    error = refused(tmp_path, PLAYBOOKS.format(setting=GOOD.replace("90", "-1")))
    assert "create_renewal_deal.days_before" in str(error)


def test_given_the_built_in_mapping_with_the_key_field_commented_out_then_it_says_what_to_uncomment(tmp_path):
    error = refused(tmp_path, PLAYBOOKS.format(setting=GOOD), FIELDMAP)
    assert "add [fields.renewal_deal_key]" in str(error) and "commented out" in str(error)
    assert "playbook.playbooks[1].create_renewal_deal" in str(error)
    # The installed file is replaced on upgrade: the admin is sent to a copy, not to edit it.
    assert "copy of the built-in mapping" in str(error) and "[crm] mapping" in str(error)


def test_given_salesforce_then_a_pipeline_is_refused_and_type_renewal_is_a_renewal_deal(tmp_path):
    fieldmap = renewal_deal_mapping(Provider.SALESFORCE)
    text = PLAYBOOKS.replace('"renewal" }', '"Renewal" }')
    error = refused(tmp_path, text.format(setting=GOOD), fieldmap)
    assert "maps no pipeline field" in str(error) and "create_renewal_deal.pipeline" in str(error)
    ok = built(tmp_path, text.format(setting='days_before = 60\nstage = "Prospecting"\ndeal_type = "Renewal"'),
               fieldmap)
    assert ok.set.playbooks[1].create_renewal_deal.stage == "Prospecting"
