"""Values taken from CRM data and put into queries are escaped: a key or id holding quotes,
backslashes, unicode or ``' OR Id != null`` is one literal value, never query syntax.

Salesforce: SOQL built by connector/salesforce/soql.py is parsed with the sandbox's SOQL parser
(an independent implementation of the grammar) and must come back as exactly the values put in.
HubSpot: filter values travel as JSON strings in the search body, so the risk is smaller; the
end-to-end check below makes sure hostile keys find nothing and break nothing on both CRMs.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from connector.salesforce import soql
from connector.sandbox.demo import demo_dataset
from connector.sandbox.salesforce.soql_parser import Comparison, parse
from tests.reliability import figures
from tests.reliability.crm import ANCHOR, open_crm
from tests.reliability.runs import run_here

HOSTILE = ["' OR Id != null", "x' OR AfterClose_Key__c != null OR Name = 'y", "\\", "\\'", "'", '"', "%", "_",
           "ключ", "🚀", "a\nb", "\u202e", "' OR ''='", "\\\\' OR Id != null --"]
no_nul = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)


@settings(max_examples=150, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow])
@given(keys=st.lists(st.one_of(st.sampled_from(HOSTILE), no_nul), min_size=1, max_size=5))
def test_given_hostile_keys_then_the_soql_in_list_holds_exactly_those_values(keys):
    query = parse(soql.tasks_by_keys("AfterClose_Key__c", keys))
    where = query.where
    assert isinstance(where, Comparison) and where.op == "IN", "the WHERE clause grew beyond one IN"
    assert where.path.text == "AfterClose_Key__c"
    assert [literal.value for literal in where.value] == keys


@pytest.mark.parametrize("provider", ["hubspot", "salesforce"])
def test_given_hostile_keys_when_looking_up_tasks_then_nothing_is_found_and_nothing_breaks(provider, tmp_path):
    with open_crm(provider, demo_dataset(anchor=ANCHOR)) as crm:
        run_here(crm, f"sqlite:///{tmp_path / 'state.db'}")
        real = sorted(crm.snapshot().tasks)[0]
        hostile = HOSTILE + [f"{real}' OR Id != null", f"{real}\\"]
        with crm.adapter() as adapter:
            found_hostile = adapter.find_tasks(hostile)
            found_real = adapter.find_tasks([real, *hostile])
    figures.record("escaping", provider=provider, hostile_values=len(hostile), found=len(found_hostile))
    assert found_hostile == {}
    assert set(found_real) == {real}
    # (Salesforce compares External IDs case-insensitively, so ``real.upper()`` would find the task:
    # harmless, because keys hold 18-character ids, which are unique regardless of case.)
