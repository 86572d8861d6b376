"""Task bodies as structured text, rendered per CRM (HubSpot: HTML; Salesforce: plain), and every
text AfterClose writes cut to its CRM field's limit with a visible marker."""

from __future__ import annotations

import datetime as dt
import tomllib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from connector.actions import UpdateRecord
from connector.hubspot import limits as hubspot_limits
from connector.hubspot.taskprops import task_properties, task_ref
from connector.mapping import TaskTemplate, builtin_mapping, load_mapping
from connector.model import Deal, RecordKind, RecordUpdate, TaskSpec
from connector.rich_text import ALLOWED_TAGS, from_html, plain, to_html
from connector.salesforce import limits as salesforce_limits
from connector.salesforce.writes import record_update, task_record
from connector.text_limits import MARKER, cut, same_text
from jobs.core.task_text import deal_values, render_task
from tests.builders import complete_fields, make_company, make_deal, make_owner

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = {
    "deal_name": "Acme <script>alert('x')</script> & Sons",
    "company_name": 'Initech "<img src=x onerror=alert(1)>"',
    "customer_goal": "</p></li></ul><b>bold</b> & more",
    "decision_criteria": "Price < 10k & SSO > none; it's \"urgent\" &amp; done",
    "success_criteria": "- <a href='javascript:alert(1)'>click</a>",
}


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list]] = []
        self.open: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))
        if tag != "br":
            self.open.append(tag)

    def handle_endtag(self, tag):
        assert self.open and self.open[-1] == tag, f"</{tag}> does not close <{self.open[-1:]}>"
        self.open.pop()

    def handle_data(self, data):
        self.text.append(data)


def parsed(markup: str) -> _Tags:
    parser = _Tags()
    parser.feed(markup)
    parser.close()
    assert parser.open == [], f"unclosed tags {parser.open}"
    return parser


def templates(provider: str) -> dict[str, dict]:
    return tomllib.loads((ROOT / "mappings" / f"{provider}.toml").read_text())["templates"]


def _hostile_deal() -> Deal:
    return make_deal(name=HOSTILE["deal_name"], company=make_company(name=HOSTILE["company_name"]),
                     owner=make_owner(name="Ann <b>Lee</b>"),
                     fields=complete_fields(**{k: v for k, v in HOSTILE.items() if k not in ("deal_name", "company_name")}))


@pytest.mark.parametrize("name", sorted(templates("hubspot")))
def test_given_hostile_deal_values_when_a_body_is_rendered_for_hubspot_then_no_markup_gets_in(name):
    template = templates("hubspot")[name]
    values = {**deal_values(_hostile_deal()), "why": "because <i>it</i> & 'so'", "nps_comment": "<script>x</script>"}
    _subject, body = render_task(TaskTemplate(subject=template["subject"], body=template["body"]), values)
    markup = hubspot_limits.task_body(body)
    found = parsed(markup)
    assert {tag for tag, _ in found.tags} <= ALLOWED_TAGS
    assert all(attrs == [] for _, attrs in found.tags)  # no attribute at all: no onerror, no href
    shown = "".join(found.text)
    assert "&" in shown and ("'" in shown or '"' in shown)  # the words and punctuation are kept, as text
    assert from_html(markup) == plain(body)  # read back, it is the body that was planned


def test_given_raw_markup_when_rendered_then_escaped_and_shown_as_the_characters_typed():
    markup = to_html("<script>alert(1)</script>\n\n- <img src=x onerror=alert(1)> & \"q\" 'q'\n1. <b>one</b>")
    found = parsed(markup)
    assert [tag for tag, _ in found.tags] == ["p", "ul", "li", "ol", "li"]
    assert "".join(found.text) == "<script>alert(1)</script><img src=x onerror=alert(1)> & \"q\" 'q'<b>one</b>"


@pytest.mark.parametrize("provider", ["hubspot", "salesforce"])
def test_every_builtin_template_reads_back_from_its_html_as_planned(provider):
    for name, template in templates(provider).items():
        assert from_html(to_html(template["body"])) == plain(template["body"]), name


def test_a_body_written_as_plain_text_before_reads_back_as_itself():
    assert from_html("Line one\nline two\n\n- a\n- b\n") == "Line one\nline two\n\n- a\n- b"


def test_given_text_at_or_under_the_limit_then_not_cut_and_over_it_then_cut_with_the_marker():
    assert cut("x" * 255, 255) == "x" * 255
    subject = cut("word " * 100, 255)
    assert len(subject) <= 255 and subject.endswith(MARKER) and subject.startswith("word word")
    assert same_text(subject, "word " * 100) and not same_text(subject, "other " * 100)


def test_given_a_body_far_over_hubspots_limit_then_its_html_fits_stays_well_formed_and_reads_back_as_planned():
    body = "Intro & <x>\n\n" + "\n".join(f"- item {n} & \"more\" <b>" for n in range(20_000)) + "\n\nWhy: end"
    markup = hubspot_limits.task_body(body)
    assert len(markup) <= hubspot_limits.STRING_MAX < len(to_html(body))
    found = parsed(markup)  # every tag closed: the text was cut before it was rendered
    assert {tag for tag, _ in found.tags} <= ALLOWED_TAGS
    back = from_html(markup)
    assert MARKER in back and back.endswith("Why: end") and same_text(back, plain(body))  # the end is kept


def _spec(subject: str, body: str) -> TaskSpec:
    return TaskSpec(key="ac1:x:d1:kickoff:0", deal_id="d1", touch_point="kickoff", subject=subject, body=body,
                    due_at=dt.datetime(2026, 3, 9, 9, tzinfo=dt.UTC), owner_id="o1")


def test_hubspot_task_properties_are_cut_to_the_limit_table_and_compare_equal_when_read_back():
    spec = _spec("S" * 70_000, "B " * 40_000)
    props = task_properties(spec, "afterclose_key")
    assert len(props["hs_task_subject"]) <= 65_536 and props["hs_task_subject"].endswith(MARKER)
    assert len(props["hs_task_body"]) <= 65_536 and props["hs_task_body"].startswith("<p>")
    ref = task_ref("1", {**props, "hs_task_status": "NOT_STARTED"}, "afterclose_key")
    assert ref.content_differs(spec) is False  # what was cut is what was planned: no rewrite


def test_salesforce_task_record_is_cut_to_subject_255_and_description_32000_and_compares_equal():
    spec = _spec("Kickoff " * 50, "Para\n\n" + "- long item text " * 3_000)
    record = task_record(spec, load_mapping(builtin_mapping("salesforce")))
    assert len(record["Subject"]) <= 255 and record["Subject"].endswith(MARKER)
    assert len(record["Description"]) <= 32_000 and record["Description"].endswith(MARKER)  # one paragraph: no end
    assert same_text(plain(record["Description"]), plain(spec.body))
    assert salesforce_limits.FIELD_LIMITS[("Task", "Subject")] == 255


def test_salesforce_text_write_back_is_cut_to_the_length_the_org_describes():
    fieldmap = load_mapping(builtin_mapping("salesforce"))
    action = UpdateRecord(update=RecordUpdate(kind=RecordKind.DEAL, record_id="006000000000001AAA",
                                              values={"handoff_missing": "Goal, " * 10_000}),
                          deal_id="006000000000001AAA", reason="r")
    crm_name = fieldmap.spec("handoff_missing").crm_name
    short = record_update(action, fieldmap, lambda sobject, field: 255 if field == crm_name else None)
    assert len(short[crm_name]) <= 255 and short[crm_name].endswith(MARKER)
    undescribed = record_update(action, fieldmap)
    assert len(undescribed[crm_name]) <= salesforce_limits.WRITE_BACK_MAX


def test_a_cut_keeps_the_end_of_a_body_where_a_task_says_why_and_what_afterclose_changed():
    body = ("Intro\n\nWhat they said: " + "slow & <x> " * 9_000 + "\n\nWhy this task: a detractor answered."
            "\n\nUpdated by AfterClose on 2026-12-06: moved from 2026-12-07 to 2026-12-09.")
    for provider, markup in (("hubspot", hubspot_limits.task_body(body)),
                             ("salesforce", salesforce_limits.field_text("Task", "Description", body))):
        shown = from_html(markup) if provider == "hubspot" else markup
        start, _, end = shown.partition(MARKER)
        assert start.startswith("Intro") and "Why this task" in end and end.rstrip().endswith("2026-12-09."), provider
        assert same_text(plain(shown), plain(body))
        assert not same_text(plain(shown), plain(body.replace("2026-12-09", "2026-12-10")))


def test_a_write_back_cut_by_the_adapter_counts_as_written():
    from connector.mapping import FieldType
    from jobs.core.values import differs

    comment = "Support never answers. " * 5_000
    stored = hubspot_limits.property_value("nps_comment", comment)
    assert len(stored) <= hubspot_limits.STRING_MAX and MARKER in stored
    assert not differs(FieldType.TEXT, stored, comment)
    assert differs(FieldType.TEXT, stored, "A new comment. " * 5_000)
