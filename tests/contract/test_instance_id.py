"""``SupportsInstanceId``: each adapter names the CRM account its credentials reach, as the CRM
itself names it, in one call per adapter; two accounts get two ids (jobs/scopes.py keeps their
state apart by it)."""

from __future__ import annotations

import pytest

from connector.mapping import builtin_mapping, load_mapping
from connector.port import SupportsInstanceId
from connector.sandbox.salesforce.ids import make_id
from tests.reliability.crm import FAST_RETRY, build_adapter


def _account(provider: str, number: int):
    if provider == "hubspot":
        from connector.sandbox.hubspot import HubSpotSandbox

        return HubSpotSandbox(portal_id=40_000_000 + number), str(40_000_000 + number)
    from connector.sandbox.salesforce import SalesforceSandbox

    org_id = make_id("00D", 500 + number)
    return SalesforceSandbox(org_id=org_id, user_id=make_id("005", 500 + number)), org_id


def _values(provider: str, endpoint) -> dict:
    if provider == "hubspot":
        return {"access_token": endpoint.token, "base_url": endpoint.base_url}
    return {"access_token": endpoint.token, "instance_url": endpoint.base_url, "ca_bundle": str(endpoint.ca_path)}


@pytest.mark.parametrize("provider", ["hubspot", "salesforce"])
def test_given_two_accounts_then_each_adapter_names_its_own_in_one_call(provider):
    fieldmap = load_mapping(builtin_mapping(provider))
    found = []
    for number in (1, 2):
        sandbox, expected = _account(provider, number)
        with sandbox.serve() as endpoint, build_adapter(provider, _values(provider, endpoint), fieldmap,
                                                        retry=FAST_RETRY, page_size=50) as adapter:
            assert isinstance(adapter, SupportsInstanceId)
            found.append(adapter.instance_id())
            assert adapter.instance_id() == found[-1]
            assert adapter.call_stats().total == 1  # read once per adapter
        assert found[-1] == expected
    assert found[0] != found[1]


def test_given_a_15_character_org_id_then_the_18_character_form_is_used():
    from connector.salesforce.org import to_18

    org_id = make_id("00D", 77)
    assert to_18(org_id[:15]) == org_id and to_18(org_id) == org_id
