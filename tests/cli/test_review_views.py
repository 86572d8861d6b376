"""What RevOps asks first, answered where they look: `plan` names each task's title and owner,
`status --run/--deal` give the reason for every outcome (created and updated included), and a
Salesforce id typed or exported in its 15-character form finds the same records as its 18."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from connector.salesforce.ids import record_id, to_18
from connector.sandbox.demo import demo_dataset
from tests.cli.conftest import invoke, on


@on("fake", "salesforce")
def test_given_a_plan_then_each_task_row_names_its_title_and_its_owner_by_name(crm):
    config = crm.config()
    invoke("setup", "--config", config)
    body = json.loads(invoke("plan", "--config", config, "--format", "json").stdout)
    creates = [a for a in body["actions"] if a["kind"] == "create_task"]
    named = [a for a in creates if a["owner_name"]]
    assert named and all(a["owner_id"] for a in named)
    owners = {f"{o.first_name} {o.last_name}" for o in demo_dataset().owners}
    assert {a["owner_name"] for a in named} <= owners

    result = invoke("plan", "--config", config)
    assert result.exit_code == 0
    header = result.stdout.replace("\n", " ")
    assert "owner" in header and "task title" in header
    assert named[0]["owner_name"].split()[0] in result.stdout


@on("fake", "salesforce")
def test_given_runs_then_status_gives_a_reason_for_every_outcome_created_and_updated_included(crm):
    config = crm.config()
    invoke("setup", "--config", config)
    invoke("run", "--config", config)
    [run] = json.loads(invoke("status", "--config", config, "--format", "json").stdout)["runs"]
    records = json.loads(invoke("status", "--config", config, "--run", str(run["id"]), "--format", "json").stdout)
    records = records["records"]
    assert all(r["message"] for r in records), [r for r in records if not r["message"]]
    created = [r for r in records if r["outcome"] == "created"]
    assert created and all("due " in r["message"] for r in created)  # its date and what it counts from

    deal_id = created[0]["deal_id"]
    moved = (dt.date.today() + dt.timedelta(days=500)).isoformat()
    crm.set_deal_field(deal_id, "renewal_date", moved)
    invoke("run", "--config", config)
    history = json.loads(invoke("status", "--config", config, "--deal", deal_id, "--format", "json").stdout)
    updated = [r for r in history["records"] if r["outcome"] == "updated"]
    assert updated and all(r["message"] for r in updated)
    assert any("reschedule (was due" in r["message"] and moved in r["message"] for r in updated), updated
    table = invoke("status", "--config", config, "--deal", deal_id).stdout
    assert "reschedule" in table


def test_salesforce_15_character_ids_get_the_documented_checksum_suffix():
    # Vectors: ids as the Salesforce UI shows them and as the API answers (CASESAFEID()).
    assert to_18("a0BA0000000L2ZC") == "a0BA0000000L2ZCMA0"
    assert to_18("00558000001N0Ke") == "00558000001N0KeAAK"
    assert to_18("AAAAABBBBBCCCCC") == "AAAAABBBBBCCCCC555"
    assert record_id(" 00558000001N0Ke ") == "00558000001N0KeAAK"
    assert record_id("00558000001N0Keaak") == "00558000001N0KeAAK"  # the suffix is case-insensitive
    assert record_id("00558000001N0KeZZZ") == "00558000001N0KeZZZ"  # not its suffix: left as typed
    assert record_id("12345") == "12345" and record_id("hubspot-9") == "hubspot-9"


def test_given_a_salesforce_deal_when_status_deal_with_its_15_character_id_then_same_records(salesforce):
    config = salesforce.config()
    invoke("setup", "--config", config)
    invoke("run", "--config", config)
    deal_id = salesforce.won_deal_ids()[0]
    assert len(deal_id) == 18
    full = json.loads(invoke("status", "--config", config, "--deal", deal_id, "--format", "json").stdout)
    short = invoke("status", "--config", config, "--deal", deal_id[:15], "--format", "json")
    assert short.exit_code == 0
    assert full["records"] and json.loads(short.stdout)["records"] == full["records"]


@pytest.mark.parametrize("width", [15, 18])
def test_given_an_nps_csv_with_salesforce_account_ids_of_either_length_then_each_response_matches(salesforce, width):
    accounts = salesforce.sandbox.demo_ids["Account"]
    account_id = accounts[next(iter(accounts))]
    csv = salesforce.tmp / "nps.csv"
    csv.write_text("response_id,email,account_id,score,responded_at,comment\n"
                   f"r-short-1,,{account_id[:width]},3,2026-11-02T10:00:00Z,Too slow\n")
    config = salesforce.config(f'[nps]\nsource = "csv"\npath = "{csv}"\n')
    assert invoke("setup", "--config", config).exit_code == 0
    result = invoke("run", "--config", config, "--job", "nps")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "1 responses read" in result.stdout and "unmatched" not in result.stdout.replace("0 responses unmatched", "")
    status = json.loads(invoke("status", "--config", config, "--format", "json").stdout)
    assert status["nps_waiting"] == []


def test_given_a_salesforce_deal_id_of_15_characters_typed_into_the_console_preview_then_that_deal_is_shown(salesforce):
    import html

    from tests.console.conftest import console_on

    deal_id = salesforce.deal_id("Oceanic Air")
    name = next(d.name for d in demo_dataset().deals if d.name.startswith("Oceanic Air"))
    with console_on(salesforce) as console:
        client = console.signed_in()
        for typed in (deal_id[:15], deal_id):
            by_query = html.unescape(client.get(f"/preview?q={typed}").text)
            by_link = html.unescape(client.get(f"/preview?deal={typed}").text)
            for page in (by_query, by_link):
                assert name in page and deal_id in page and "create task" in page, typed


def test_given_a_salesforce_fallback_owner_typed_with_15_characters_then_the_plan_names_that_user(salesforce):
    """The config's user id is used in the form Salesforce answers with (18 characters), so the
    plan names the user, and the ids AfterClose stores match the CRM's."""
    users = salesforce.sandbox.demo_ids["User"]
    key = next(iter(users))
    user_id = users[key]
    owner = next(o for o in demo_dataset().owners if o.key == key)
    config = salesforce.config(f'[playbook]\nfallback_owner = "{user_id[:15]}"\n')
    invoke("setup", "--config", config)
    body = json.loads(invoke("plan", "--config", config, "--format", "json").stdout)
    tasks = [a for a in body["actions"] if a["kind"] == "create_task"]
    fallback = [a for a in tasks if a["owner_id"] and a["owner_id"].startswith(user_id[:15])]
    assert fallback and {a["owner_id"] for a in fallback} == {user_id}
    assert {a["owner_name"] for a in fallback} == {f"{owner.first_name} {owner.last_name}"}
