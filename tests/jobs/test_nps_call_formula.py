"""The HubSpot calls of an NPS run stay at the formula docs/nps.md ("Matching cost and lag") states.

E survey respondents, each named by email only, are matched with contact batch reads by
``idProperty: "email"`` (100 emails a call), never with the contact search: ⌈E/100⌉ reads, 0
searches. The rest of the read side follows from what was matched: C contacts found -> ⌈C/1000⌉
contact->company association reads; A companies -> ⌈A/100⌉ company reads and ⌈A/1000⌉
company->deal association reads; the D deals linked to them are read and enriched like the sync
job's deals (⌈D/100⌉ deal reads, per page of up to 1,000 deals one deal->contact and one
deal->company association read, and ⌈c/100⌉ + ⌈k/100⌉ reads of their c contacts by id and k
primary companies), with pipelines (1) and owners (2) read once; with ``referred_by`` mapped, one
deal search per 200 referred won deals (at least one).

The sandbox counts calls by endpoint; it cannot tell a read by email from a read by id (same
path), so the client's own calls are tallied by ``idProperty`` as well, and both must agree.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from connector.sandbox.demo import scaled_dataset
from jobs.nps import run_nps
from jobs.state import open_store
from tests.contract.hubspot_harness import ANCHOR, hubspot_harness
from tests.jobs.test_nps_job import nps_job, nps_mapping, write_rows

CONTACT_READ = "POST /crm/v3/objects/contacts/batch/read"
CONTACT_SEARCH = "POST /crm/v3/objects/contacts/search"


def _by_email_tally(client, tally: dict[str, int]):
    """Wrap ``client.call`` to count contact batch reads by their ``idProperty`` (None: by id)."""
    real = client.call

    def call(label, api_path, method, /, **kwargs):
        if label == CONTACT_READ:
            body = kwargs["batch_read_input_simple_public_object_id"]
            key = getattr(body, "id_property", None) or "id"
            tally[key] = tally.get(key, 0) + 1
        return real(label, api_path, method, **kwargs)

    return call


@pytest.mark.parametrize("respondents", [100, 150])
def test_given_respondents_by_email_then_matching_costs_one_batch_read_per_100_and_no_search(
        tmp_path: Path, monkeypatch, respondents: int):
    data = scaled_dataset(respondents + 3, anchor=ANCHOR)  # 3 contacts per company: a few are not asked
    asked = data.contacts[:respondents]
    rows = [{"response_id": f"r-{c.key}", "email": c.email.upper() if c.key % 7 == 0 else c.email,
             "score": str(c.key % 11), "responded_at": "2026-03-01T09:00:00Z"} for c in asked]
    companies = {c.company for c in asked}
    linked = [d for d in data.deals if d.company in companies]
    deal_contacts = {role.contact for d in linked for role in d.contacts}
    deal_companies = {d.company for d in linked}

    with hubspot_harness(data, fieldmap=nps_mapping("hubspot")) as h, \
            open_store(f"sqlite:///{tmp_path / 's.db'}") as store:
        h.adapter.setup()
        tally: dict[str, int] = {}
        monkeypatch.setattr(h.adapter._client, "call", _by_email_tally(h.adapter._client, tally))
        source = write_rows(tmp_path / "responses.csv", rows)
        h.sandbox.controls.reset_calls()
        report = run_nps(nps_job(h, store, source))
        calls = h.sandbox.controls.snapshot()

    assert report.unmatched == [] and report.new_responses == respondents
    # Matching: ⌈E/100⌉ reads by email, no search (which would lag and spend the search limit).
    assert tally.get("email") == math.ceil(respondents / 100)
    assert calls.get(CONTACT_SEARCH, 0) == 0
    assert calls["POST /crm/v4/associations/contacts/companies/batch/read"] == math.ceil(respondents / 1000)
    # The matched accounts and their deals.
    assert calls["POST /crm/v3/objects/companies/batch/read"] == \
        math.ceil(len(companies) / 100) + math.ceil(len(deal_companies) / 100)
    assert calls["POST /crm/v4/associations/companies/deals/batch/read"] == math.ceil(len(companies) / 1000)
    assert calls["POST /crm/v3/objects/deals/batch/read"] == math.ceil(len(linked) / 100)
    assert calls["POST /crm/v4/associations/deals/contacts/batch/read"] == math.ceil(len(linked) / 1000)
    assert calls["POST /crm/v4/associations/deals/companies/batch/read"] == math.ceil(len(linked) / 1000)
    assert tally.get("id") == math.ceil(len(deal_contacts) / 100)
    assert calls[CONTACT_READ] == tally["email"] + tally["id"]  # the sandbox saw exactly the client's reads
    assert calls["GET /crm/v3/pipelines/deals"] == 1 and calls["GET /crm/v3/owners/"] == 2
    # referred_by is mapped and no deal names a referrer: the referred-deals search is one empty page.
    assert calls["POST /crm/v3/objects/deals/search"] == 1
