"""render_template and the {stakeholders} text: what a rep reads in a task."""

from __future__ import annotations

import pytest

from connector.mapping import NOT_RECORDED, format_stakeholders, render_template
from connector.model import Contact


def test_given_values_then_placeholders_filled():
    assert render_template("Call {company_name} about {deal_name}",
                           {"company_name": "Acme", "deal_name": "Acme renewal"}) == (
        "Call Acme about Acme renewal")


@pytest.mark.parametrize("value", [None, "", "   ", "\n\t"])
def test_given_missing_or_blank_value_then_not_recorded(value):
    values = {} if value is None else {"customer_goal": value}
    assert render_template("Goal: {customer_goal}", values) == f"Goal: {NOT_RECORDED}"


def test_given_braces_inside_a_value_then_inserted_literally():
    assert render_template("Goal: {customer_goal}", {"customer_goal": "{deal_name} {0} }{"}) == (
        "Goal: {deal_name} {0} }{")


def test_given_doubled_braces_then_literal_brace_rendered():
    assert render_template("{{x}} {a}", {"a": "1"}) == "{x} 1"


def test_given_value_with_surrounding_space_then_trimmed_but_inner_lines_kept():
    assert render_template("[{a}]", {"a": "  line one\nline two  "}) == "[line one\nline two]"


def test_given_malformed_template_then_value_error():
    with pytest.raises(ValueError):
        render_template("{unclosed", {})


def test_given_contacts_then_one_line_each_with_name_role_email():
    contacts = (
        Contact(id="1", name="Jane Roe", role="Decision Maker", email="jane@acme.test", is_primary=True),
        Contact(id="2", name="Sam Poe", email="sam@acme.test"),
        Contact(id="3", email="ops@acme.test", role="  "),
    )
    assert format_stakeholders(contacts).splitlines() == [
        "- Jane Roe, Decision Maker, jane@acme.test (primary)",
        "- Sam Poe, sam@acme.test",
        "- (name not recorded), ops@acme.test",
    ]


def test_given_no_contacts_then_stakeholders_render_as_not_recorded():
    text = format_stakeholders(())
    assert text == ""
    assert render_template("{stakeholders}", {"stakeholders": text}) == NOT_RECORDED


def test_given_the_built_in_nps_templates_copied_into_a_mapping_file_then_it_loads():
    """An admin copying the NPS job's own templates into their mapping (16.6): every placeholder
    they use is in the one table the loader checks against."""
    from connector.mapping import builtin_mapping, parse_mapping
    from jobs.core.nps import DEFAULT_TEMPLATES, TEMPLATE_IDS

    text = builtin_mapping("hubspot").read_text(encoding="utf-8")
    for touch_point, template in DEFAULT_TEMPLATES.items():
        body = template.body.replace('"""', "")
        text += f'\n[templates.{TEMPLATE_IDS[touch_point]}_copy]\nsubject = "{template.subject}"\nbody = """{body}"""\n'
    fieldmap = parse_mapping(text, source="copied.toml")
    assert fieldmap.template("referral_ask_copy").subject == DEFAULT_TEMPLATES["nps_referral_ask"].subject
    # ... and renders: every placeholder of the copy is filled from the one table's values.
    from connector.mapping.templates import placeholders_in, render_template

    copy = fieldmap.template("referral_ask_copy")
    values = {name: f"<{name}>" for name in placeholders_in(copy.body)}
    assert "respondent" in values
    rendered = render_template(copy.body, values)
    assert "<respondent>" in rendered and "{" not in rendered.replace("{{", "")
