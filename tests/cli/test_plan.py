"""`afterclose plan`: the dry run reads, never writes, and says what `run` would do and cost."""

from __future__ import annotations

import datetime as dt
import json

from connector.actions import CloseTask, CreateTask, UpdateRecord, UpdateTask
from connector.mapping import builtin_mapping, load_mapping
from connector.model import Priority, RecordKind, RecordUpdate, TaskSpec, TaskType
from tests.cli.conftest import invoke, on

KINDS = {"create_task", "update_task", "close_task", "update_record", "skip"}


def plan_json(config) -> dict:
    result = invoke("plan", "--config", config, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@on("fake", "salesforce")
def test_given_demo_crm_when_plan_then_no_write_call_and_json_lists_every_action_with_deal_and_key(crm):
    config = crm.config()
    invoke("setup", "--config", config)
    writes_before = crm.write_calls()
    body = plan_json(config)
    assert crm.write_calls() == writes_before
    assert crm.task_keys() == []
    actions, summary = body["actions"], body["summary"]
    assert {a["kind"] for a in actions} <= KINDS and {"create_task", "update_record", "skip"} <= {a["kind"] for a in actions}
    assert all(a["deal_id"] and a["key"] and a["reason"] for a in actions)
    assert all(a["deal_name"] for a in actions if a["job"] == "sync")
    creates = [a for a in actions if a["kind"] == "create_task"]
    assert all(a["subject"] and a["due"] and a["touch_point"] for a in creates)
    assert summary["create_task"] == len(creates) and summary["deals"] == len(crm.won_deal_ids())
    assert summary["api_calls_reads"] > 0 and summary["api_calls_writes_estimate"] > 0


def test_given_plan_then_run_then_estimated_calls_within_ten_percent_of_calls_made(crm):
    config = crm.config()
    invoke("setup", "--config", config)
    _assert_estimate_holds(crm, config)
    # Second round: renewal dates move (reschedules), handoffs get completed (closes, write-backs).
    for deal_id in crm.won_deal_ids()[:10]:
        crm.set_deal_field(deal_id, "renewal_date", (dt.date.today() + dt.timedelta(days=400)).isoformat())
    for name in ("Café Ñandú", "Oceanic Air"):
        crm.set_deal_field(crm.deal_id(name), "decision_criteria", "Total cost over three years and SSO")
    body = _assert_estimate_holds(crm, config)
    assert body["summary"]["update_task"] > 0 and body["summary"]["close_task"] > 0


def _assert_estimate_holds(crm, config) -> dict:
    body = plan_json(config)
    before = crm.total_calls()
    assert invoke("run", "--config", config).exit_code in (0, 1)
    made = crm.total_calls() - before
    estimate = body["summary"]["api_calls_estimate"]
    assert abs(estimate - made) <= 0.1 * made, f"estimated {estimate} calls, the run made {made}"
    return body


def test_plan_table_names_deals_and_says_nothing_was_written(fake):
    config = fake.config()
    invoke("setup", "--config", config)
    result = invoke("plan", "--config", config)
    assert result.exit_code == 0
    assert "nothing has been written" in result.stdout
    assert "Acme Corp - Platform 2026" in result.stdout
    assert "spent reading for this plan" in result.stdout
    assert result.stderr.count("\n") <= 1 or all(line.startswith("{") for line in result.stderr.splitlines())


# -- the estimate arithmetic, call for call --------------------------------------------------------

NOW = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)


def _spec(n: int, deal: str = "d") -> TaskSpec:
    return TaskSpec(key=f"ac1:x:{deal}{n}:kickoff:0", deal_id=f"{deal}{n}", touch_point="kickoff", subject="s",
                    body="b", due_at=NOW, owner_id=None, priority=Priority.NORMAL, type=TaskType.TODO)


def _deal_write(n: int) -> UpdateRecord:
    return UpdateRecord(update=RecordUpdate(kind=RecordKind.DEAL, record_id=f"006{n:015d}",
                                            values={"handoff_status": "complete"}), deal_id=f"d{n}", reason="r")


def test_hubspot_estimate_counts_batches_of_100_and_a_second_round_for_a_task_written_twice():
    from connector.hubspot.estimate import estimate_write_calls

    fieldmap = load_mapping(builtin_mapping("hubspot"))
    creates = [CreateTask(spec=_spec(n), reason="r") for n in range(250)]
    closes = [CloseTask(key=f"k{n}", deal_id="d", crm_id=None, reason="r") for n in range(100)]
    twice = [UpdateTask(spec=_spec(1), crm_id="t1", changes=("due_at",), reason="r")] * 2
    writes = [_deal_write(n) for n in range(101)]
    assert estimate_write_calls(creates, fieldmap) == 3
    assert estimate_write_calls(closes + twice, fieldmap) == 2 + 1  # 101 in round one, 1 in round two
    assert estimate_write_calls(writes, fieldmap) == 2 + 1  # + the search that walks past the written deals


def test_salesforce_estimate_counts_collections_of_200_and_one_lookup_per_key_list_for_closes():
    from connector.salesforce.estimate import estimate_write_calls

    fieldmap = load_mapping(builtin_mapping("salesforce"))
    creates = [CreateTask(spec=_spec(n), reason="r") for n in range(250)]
    closes_by_key = [CloseTask(key=f"k{n}", deal_id="d", crm_id=None, reason="r") for n in range(150)]
    writes = [_deal_write(n) for n in range(100)]
    assert estimate_write_calls(creates, fieldmap) == 2
    assert estimate_write_calls(closes_by_key, fieldmap) == 1 + 1  # the lookup, then the update
    # 250 updates: two collections; then one query batch over the 100 deal write-backs (OwnWrites)
    assert estimate_write_calls(closes_by_key + writes, fieldmap) == 1 + 2 + 1
