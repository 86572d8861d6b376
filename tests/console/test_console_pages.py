"""The console's pages on the same files, store and code paths the jobs use."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import html
import io
import re

import pytest

from connector.sandbox.demo import demo_dataset
from tests.cli.conftest import invoke
from tests.console.conftest import base_of, csrf_of


def _review_and_save(client, picks: dict[str, str]):
    page = client.get("/mappings").text
    form = {"csrf_token": csrf_of(page), "base": base_of(page)} | {f"crm:{k}": v for k, v in picks.items()}
    review = client.post("/mappings/review", data=form)
    return form, Page(review), client.post("/mappings/save", data=form)


class Page:
    """A response whose ``text`` reads as the browser shows it (entities decoded)."""

    def __init__(self, response):
        self.status_code = response.status_code
        self.headers = response.headers
        self.text = html.unescape(response.text)


def test_given_a_compatible_field_when_saved_then_the_file_keeps_its_comments_and_the_change_is_recorded(on_hubspot):
    client = on_hubspot.signed_in(name="Ada Admin")
    before = on_hubspot.mapping.read_text()
    _, review, saved = _review_and_save(client, {"fields.decision_criteria": "description"})

    assert review.status_code == 200 and '+crm = "description"' in review.text and "passes" in review.text
    assert saved.status_code == 303 and saved.headers["location"].startswith("/mappings?saved=")
    after = on_hubspot.mapping.read_text()
    assert after == before.replace('[fields.decision_criteria]\nrecord = "deal"\ncrm = "decision_criteria"',
                                   '[fields.decision_criteria]\nrecord = "deal"\ncrm = "description"')
    [change] = on_hubspot.ctx.store.console_changes()
    assert change.actor == "Ada Admin (admin token)" and change.kind == "mapping"
    assert "-crm = \"decision_criteria\"" in change.diff and "+crm = \"description\"" in change.diff
    assert "fields.decision_criteria: decision_criteria -> description" in html.unescape(client.get("/changes").text)
    check = invoke("check", "--config", on_hubspot.config)
    assert check.exit_code == 0, check.stderr  # what the console wrote, `check` accepts


def test_given_an_incompatible_field_then_the_pick_is_refused_as_check_words_it_and_nothing_is_written(on_hubspot):
    client = on_hubspot.signed_in()
    page = client.get("/mappings").text
    verdict = Page(client.post("/mappings/verdict", data={"csrf_token": csrf_of(page), "key": "fields.renewal_date",
                                                     "crm:fields.renewal_date": "dealname"}))
    assert "data-verdict=\"refused\"" in verdict.text and "mapped as date, the property is string" in verdict.text
    fits = client.post("/mappings/verdict", data={"csrf_token": csrf_of(page), "key": "fields.decision_criteria",
                                                  "crm:fields.decision_criteria": "description"})
    assert "data-verdict=\"fits\"" in fits.text
    before = on_hubspot.mapping.read_text()
    _, review, saved = _review_and_save(client, {"fields.renewal_date": "dealname"})
    assert "Not saved" in review.text and "Save to" not in review.text
    assert saved.status_code == 422 and on_hubspot.mapping.read_text() == before
    assert on_hubspot.ctx.store.console_changes() == []


def test_given_the_file_changed_on_disk_after_the_page_loaded_then_saving_is_refused_as_a_conflict(on_hubspot):
    client = on_hubspot.signed_in()
    page = client.get("/mappings").text
    edited = on_hubspot.mapping.read_text() + "\n# a colleague's edit, pulled from git\n"
    on_hubspot.mapping.write_text(edited)
    response = client.post("/mappings/save", data={"csrf_token": csrf_of(page), "base": base_of(page),
                                                   "crm:fields.decision_criteria": "description"})
    assert response.status_code == 409 and "changed on disk" in response.text
    assert on_hubspot.mapping.read_text() == edited


def test_given_a_mapping_that_breaks_the_file_rules_then_it_is_refused_with_the_loaders_words(on_hubspot):
    client = on_hubspot.signed_in()
    _, review, saved = _review_and_save(client, {"fields.customer_goal": "success_criteria"})
    assert "is already mapped by fields.customer_goal" in review.text
    assert saved.status_code == 422


def test_playbooks_are_drawn_on_a_timeline_and_an_edit_is_checked_by_the_loader(on_fake):
    client = on_fake.signed_in()
    page = client.get("/playbooks").text
    assert page.count("<svg class=\"timeline\"") == 3  # renewal, expansion, new business
    assert "Kickoff call (day 2)" in page and "Renewal deal" in page
    edit = client.get("/playbooks?edit=touch_point:kickoff").text
    form = {"csrf_token": csrf_of(edit), "base": base_of(edit), "item": "touch_point:kickoff", "title": "Kickoff call",
            "anchor": "close", "offset": "3", "type": "call", "priority": "high", "business_days": "on",
            "purpose": "Agree the goal."}
    review = Page(client.post("/playbooks/review", data=form))
    assert "+offset = 3" in review.text and "load as every run" in review.text
    assert client.post("/playbooks/save", data=form).status_code == 303
    assert "offset = 3" in on_fake.playbooks.read_text() and "# --- Touch points" in on_fake.playbooks.read_text()
    page = client.get("/playbooks?edit=playbook:new_business").text
    bad = {"csrf_token": csrf_of(page), "base": base_of(page), "item": "playbook:new_business",
           "title": "New business", "when": '{ field = "no_such_field", equals = "x" }', "touch_points_order": "kickoff",
           "tp:kickoff": "on", "handoff_task": "on", "roll_forward": "on"}
    refused = client.post("/playbooks/save", data=bad)
    assert refused.status_code == 422 and "no_such_field" in refused.text
    assert [c.kind for c in on_fake.ctx.store.console_changes()] == ["playbooks"]


def test_given_a_deal_name_then_the_preview_shows_the_next_runs_actions_without_a_write_call(on_fake):
    client = on_fake.signed_in()
    writes = on_fake.crm.write_calls()  # setup's, before
    page = html.unescape(client.get("/preview?q=Oceanic Air - Expansion").text)
    assert "Playbook <strong>new_business</strong>, because" in page and "Kickoff call" in page
    assert "update record" in page and "Handoff status ← <code>incomplete</code>" in page
    assert on_fake.crm.write_calls() == writes


def test_runs_show_history_rejected_records_with_the_crms_words_and_the_budget(on_fake):
    assert invoke("run", "--config", on_fake.config, "--job", "sync").exit_code == 1  # the demo's refused owner
    client = on_fake.signed_in()
    runs = client.get("/runs").text
    run_id = re.search(r'href="/runs/(\d+)\?outcome=rejected"', runs).group(1)
    assert "Waiting for a retry" in runs and "AfterClose may spend 95 calls per 10 seconds" in runs
    rejected = client.get(f"/runs/{run_id}?outcome=rejected").text
    assert "rejected" in rejected and "created" not in re.sub(r"<a [^>]*>[^<]*</a>", "", rejected.split("<tbody>")[1])


def test_given_a_record_the_crm_refused_then_its_run_page_shows_the_crms_own_message_and_code(on_fake):
    assert invoke("run", "--config", on_fake.config, "--job", "sync").exit_code == 1  # the demo's refused owner
    [run] = [r for r in on_fake.ctx.store.recent_runs(None, 5) if r.job == "sync"]
    refused = [r for r in on_fake.ctx.store.run_records(run.id) if r.outcome.value == "rejected"]
    assert refused, "the demo data has a task for a deactivated owner, which the CRM refuses"

    page = Page(on_fake.signed_in().get(f"/runs/{run.id}?outcome=rejected"))

    rows = re.findall(r"<tr class=\"rejected\">(.*?)</tr>", page.text, flags=re.S)
    assert len(rows) == len(refused)
    for record in refused:
        # The CRM's words (the in-memory CRM refuses as HubSpot and Salesforce do: per record, with a
        # message and a code), in the row of that record, not a summary of our own.
        assert "is deactivated and cannot be assigned a task" in record.message
        [row] = [r for r in rows if f"<code>{record.key}</code>" in r]
        assert record.message in row and f"[{record.error_code}]" in row and record.error_code == "INACTIVE_OWNER"


def test_the_scorecard_charts_completeness_by_owner_and_month_and_exports_csv(on_fake):
    client = on_fake.signed_in()
    page = client.get("/scorecard").text
    assert "Complete handoffs by owner" in page and "Ada Lovelace" in page and "Missing most often" in page
    rows = list(csv.reader(io.StringIO(client.get("/scorecard.csv?view=owners").text)))
    assert rows[0] == ["owner", "won_deals", "complete", "complete_share"] and len(rows) > 2
    deals = list(csv.DictReader(io.StringIO(client.get("/scorecard.csv?view=deals").text)))
    assert {d["complete"] for d in deals} == {"yes", "no"}


def _deals_by_close_month(template, plan: dict[str, tuple[int, int]]):
    """Won deals like ``template`` (its owner, company and contacts), ``plan[month] = (won, complete)``:
    complete ones carry every handoff answer, the others lack the decision criteria; plus one lost
    deal, which no chart counts."""
    complete = {"first_touch_channel": "Referral", "decision_criteria": "Security review passed first",
                "customer_goal": "Cut onboarding time in half", "success_criteria": "Ten teams live by Q3",
                "renewal_date": None}
    deals = []
    for month, (won, done) in plan.items():
        year, number = (int(part) for part in month.split("-"))
        for n in range(won):
            fields = complete if n < done else complete | {"decision_criteria": None}
            deals.append(dataclasses.replace(template, key=len(deals), name=f"Chart deal {month} #{n}",
                                             stage="won", close_date=dt.date(year, number, 10 + n), fields=fields))
    lost = dataclasses.replace(template, key=len(deals), name="Chart deal lost", stage="lost",
                               close_date=dt.date(2026, 2, 3), fields=complete)
    return tuple([*deals, lost])


def test_the_scorecards_month_chart_draws_each_close_month_with_its_won_and_complete_counts(open_crm):
    from tests.console.conftest import console_on

    base = demo_dataset()
    template = next(d for d in base.won_deals() if d.contacts and d.company is not None
                    and next(o for o in base.owners if o.key == d.owner).active)
    plan = {"2025-12": (2, 0), "2026-01": (3, 2), "2026-02": (1, 1)}
    crm = open_crm("fake", dataclasses.replace(base, deals=_deals_by_close_month(template, plan), nps_responses=()))
    with console_on(crm) as console:
        page = html.unescape(console.signed_in().get("/scorecard").text)

    chart = re.search(r'<svg class="chart"[^>]*aria-label="Complete handoffs by month">(.*?)</svg>', page, re.S)
    assert chart, "the scorecard draws the by-month chart as an SVG"
    bars = re.findall(r'<g><title>([^<]*): ([^<]*)</title>.*?<rect [^>]*width="([\d.]+)" height="22" fill="#e2e8f0"/>'
                      r'\s*<rect [^>]*width="([\d.]+)"', chart.group(1), re.S)
    drawn = [(month, text) for month, text, _, _ in bars]
    assert drawn == [("2025-12", "0/2 complete (0%)"), ("2026-01", "2/3 complete (67%)"),
                     ("2026-02", "1/1 complete (100%)")]  # in month order; the lost deal counts nowhere
    for (month, _, full, filled) in bars:
        won, done = plan[month]
        assert float(filled) == pytest.approx(float(full) * done / won)  # the bar is as long as the share
    assert re.findall(r'text-anchor="end"[^>]*>([^<]*)</text>', chart.group(1)) == list(plan)  # the labels drawn


def test_given_an_unreachable_crm_then_those_parts_say_so_and_runs_and_playbooks_still_work(open_crm):
    from tests.console.conftest import console_on

    crm = open_crm("hubspot")
    with console_on(crm) as console:
        client = console.signed_in()
        console.config.write_text(console.config.read_text().replace(crm.endpoint.base_url, "http://127.0.0.1:9"))
        mappings = client.get("/mappings").text
        preview = client.get("/preview?q=Oceanic").text
        runs = client.get("/runs")
        playbooks = client.get("/playbooks")
    assert "cannot be reached" in mappings and "cannot be asked right now" in preview
    assert runs.status_code == 200 and playbooks.status_code == 200 and "Kickoff call" in playbooks.text


def test_mappings_page_offers_each_key_only_the_live_fields_that_can_hold_its_type(on_hubspot):
    client = on_hubspot.signed_in(name="Ada Admin")
    page = client.get("/mappings")
    assert page.status_code == 200
    lists = _datalists(page.text)
    renewal = lists["fields-fields-renewal_date"]
    assert "closedate" in renewal and "renewal_date" in renewal  # date and date-time fields
    assert "dealname" not in renewal and "amount" not in renewal  # text and number fields cannot hold a date
    assert "description" in lists["fields-fields-handoff_status"]  # enum values may be written as text
    assert 'list="fields-fields-renewal_date"' in page.text  # the input uses its own key's list
    assert "Close Date (datetime)" in page.text or "Close date (datetime)" in page.text  # label and type shown


def _datalists(text: str) -> dict[str, set[str]]:
    """datalist id -> the field names it offers."""
    import re

    found: dict[str, set[str]] = {}
    for ident, body in re.findall(r'<datalist id="([^"]+)">(.*?)</datalist>', text, flags=re.S):
        found[ident] = set(re.findall(r'<option value="([^"]+)"', body))
    return found
