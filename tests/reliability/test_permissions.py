"""`check` can name a missing CRM permission: ``missing_permissions(adapter)`` in
connector/{hubspot,salesforce}/permissions.py (docs/permissions.md lists what each job needs)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from connector.sandbox.demo import demo_dataset
from connector.sandbox.server import serve_in_thread
from tests.reliability.crm import ANCHOR, FAST_RETRY, build_adapter, mapping_for, open_crm

MISSING_OWNERS_SCOPE = {
    "status": "error", "category": "MISSING_SCOPES", "correlationId": "00000000-0000-0000-0000-000000000000",
    "message": "This app hasn't been granted all required scopes to make this call.",
    "errors": [{"message": "One or more of the following scopes are required.",
                "context": {"requiredGranularScopes": ["crm.objects.owners.read"]}}],
}


def refusing(app, path_prefix: str):
    """The sandbox, except that calls under ``path_prefix`` get HubSpot's 403 MISSING_SCOPES."""
    async def gate(scope, receive, send):
        if scope["type"] == "http" and scope["path"].startswith(path_prefix):
            body = json.dumps(MISSING_OWNERS_SCOPE).encode()
            await send({"type": "http.response.start", "status": 403,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": body})
            return
        await app(scope, receive, send)

    return gate


@pytest.mark.parametrize("provider", ["hubspot", "salesforce"])
def test_given_every_permission_then_nothing_is_missing(provider):
    with open_crm(provider, demo_dataset(anchor=ANCHOR)) as crm, crm.adapter() as adapter:
        writes = crm.write_calls()
        assert adapter.missing_permissions() == []
        assert crm.write_calls() == writes  # probing writes nothing


def test_given_hubspot_token_without_owner_scope_then_the_scope_is_named():
    from connector.sandbox.hubspot import HubSpotSandbox

    sandbox = HubSpotSandbox()
    sandbox.load(demo_dataset(anchor=ANCHOR))
    with serve_in_thread(refusing(sandbox.app, "/crm/v3/owners")) as server:
        values = {"access_token": sandbox.token, "base_url": server.base_url}
        with build_adapter("hubspot", values, mapping_for("hubspot"), retry=FAST_RETRY, page_size=50) as adapter:
            assert adapter.missing_permissions() == ["crm.objects.owners.read"]


def test_given_salesforce_user_who_cannot_create_tasks_or_edit_a_written_field_then_both_are_named():
    fieldmap = mapping_for("salesforce")
    status_field = fieldmap.spec("handoff_status").crm_name
    with open_crm("salesforce", demo_dataset(anchor=ANCHOR)) as crm:
        catalog = crm.sandbox.catalog
        catalog["Task"] = dataclasses.replace(catalog["Task"], createable=False)
        opportunity = catalog["Opportunity"]
        fields = dict(opportunity.fields)
        fields[status_field] = dataclasses.replace(fields[status_field], updateable=False)
        catalog["Opportunity"] = dataclasses.replace(opportunity, fields=fields)
        with crm.adapter() as adapter:
            missing = adapter.missing_permissions()
    assert missing == ["Task: create", f"Opportunity.{status_field}: edit"]
