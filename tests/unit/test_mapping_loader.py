"""load_mapping refuses every kind of admin mistake with a ConfigError naming file, key and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from connector.errors import ConfigError
from connector.mapping import (
    FieldMap,
    FieldType,
    RuleKind,
    load_mapping,
    parse_mapping,
)
from connector.model import Provider, RecordKind

MINIMAL = textwrap.dedent('''\
    provider = "salesforce"

    [task]
    key_field = "AfterClose_Key__c"

    [fields.customer_goal]
    record = "deal"
    crm = "Customer_Goal__c"
    type = "text"
    label = "Customer goal"

    [fields.renewal_date]
    record = "deal"
    crm = "Renewal_Date__c"
    type = "date"

    [fields.handoff_status]
    record = "deal"
    crm = "Handoff_Status__c"
    type = "enum"
    options = ["complete", "incomplete"]
    write = true
    afterclose = true

    [handoff]
    min_stakeholders = 1

    [[handoff.rules]]
    field = "customer_goal"
    kind = "required"

    [[handoff.rules]]
    field = "customer_goal"
    kind = "min_length"
    value = 10

    [[handoff.rules]]
    field = "renewal_date"
    kind = "date_after"
    value = "close_date"

    [templates.default]
    subject = "{touch_point_title}: {deal_name}"
    body = """
    Goal: {customer_goal}
    """
    ''')


def write(tmp_path: Path, text: str, name: str = "mapping.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def refused(tmp_path: Path, text: str) -> ConfigError:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_mapping(path)
    error = caught.value
    assert error.source == str(path)
    assert str(path) in str(error)
    assert error.key and error.key in str(error)
    return error


def replaced(old: str, new: str, text: str = MINIMAL) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


# --- a good file -------------------------------------------------------------------------

def test_given_minimal_mapping_when_loaded_then_fields_rules_and_templates_compiled(tmp_path):
    fieldmap = load_mapping(write(tmp_path, MINIMAL))
    assert isinstance(fieldmap, FieldMap)
    assert fieldmap.provider is Provider.SALESFORCE
    assert fieldmap.task_key_field == "AfterClose_Key__c"
    goal = fieldmap.spec("customer_goal")
    assert (goal.record, goal.crm_name, goal.type, goal.label) == (
        RecordKind.DEAL, "Customer_Goal__c", FieldType.TEXT, "Customer goal")
    status = fieldmap.spec("handoff_status")
    assert status.options == ("complete", "incomplete")
    assert status.write and status.afterclose_owned
    assert [(r.kind, r.field, r.value) for r in fieldmap.handoff_rules] == [
        (RuleKind.REQUIRED, "customer_goal", None),
        (RuleKind.MIN_LENGTH, "customer_goal", 10),
        (RuleKind.DATE_AFTER, "renewal_date", "close_date"),
        (RuleKind.MIN_STAKEHOLDERS, None, 1),
    ]
    assert fieldmap.source == str(tmp_path / "mapping.toml")


def test_given_field_without_label_then_label_is_readable_canonical_name(tmp_path):
    fieldmap = load_mapping(write(tmp_path, MINIMAL))
    assert fieldmap.label("renewal_date") == "Renewal date"
    assert fieldmap.handoff_rules[2].label == "Renewal date"


def test_given_rule_label_then_it_names_the_finding(tmp_path):
    text = replaced('kind = "required"', 'kind = "required"\nlabel = "The goal"')
    assert load_mapping(write(tmp_path, text)).handoff_rules[0].label == "The goal"


def test_given_stakeholder_role_then_role_rule_follows_field_rules(tmp_path):
    text = replaced("min_stakeholders = 1", 'min_stakeholders = 2\nstakeholder_role = "Decision Maker"')
    rules = load_mapping(write(tmp_path, text)).handoff_rules
    assert [(r.kind, r.value) for r in rules[-2:]] == [
        (RuleKind.MIN_STAKEHOLDERS, 2), (RuleKind.STAKEHOLDER_ROLE, "Decision Maker")]


def test_given_no_handoff_table_then_no_rules(tmp_path):
    start, end = MINIMAL.index("[handoff]"), MINIMAL.index("[templates.default]")
    fieldmap = load_mapping(write(tmp_path, MINIMAL[:start] + MINIMAL[end:]))
    assert fieldmap.handoff_rules == ()


def test_given_vendor_table_of_own_provider_then_it_becomes_extras(tmp_path):
    fieldmap = load_mapping(write(tmp_path, MINIMAL + '\n[salesforce]\napi_version = "61.0"\n'))
    assert dict(fieldmap.extras) == {"api_version": "61.0"}


def test_given_touch_point_without_template_then_default_is_used(tmp_path):
    fieldmap = load_mapping(write(tmp_path, MINIMAL))
    assert fieldmap.template("kickoff") is fieldmap.templates["default"]


def test_given_declared_field_name_as_placeholder_then_accepted(tmp_path):
    text = replaced("Goal: {customer_goal}", "Goal: {customer_goal}, status {handoff_status}")
    assert "{handoff_status}" in load_mapping(write(tmp_path, text)).templates["default"].body


def test_given_same_crm_name_on_deal_and_company_then_accepted(tmp_path):
    text = MINIMAL + textwrap.dedent('''
        [fields.company_goal]
        record = "company"
        crm = "Customer_Goal__c"
        type = "text"
        ''')
    assert load_mapping(write(tmp_path, text)).spec("company_goal").record is RecordKind.COMPANY


def test_given_literal_braces_doubled_then_template_accepted(tmp_path):
    text = replaced("Goal: {customer_goal}", "Goal: {customer_goal} {{not a placeholder}}")
    assert load_mapping(write(tmp_path, text))


# --- the file itself ---------------------------------------------------------------------

def test_given_missing_file_then_config_error_names_the_file(tmp_path):
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as caught:
        load_mapping(path)
    assert caught.value.source == str(path) and "cannot read" in str(caught.value)


def test_given_file_not_utf8_then_config_error(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(MINIMAL.replace("Customer goal", "Kundenzielsetzung für").encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_mapping(path)


def test_given_invalid_toml_then_error_has_line_column_and_nearest_key(tmp_path):
    error = refused(tmp_path, replaced('crm = "Customer_Goal__c"', 'crm = Customer_Goal__c'))
    assert "not valid TOML" in str(error)
    assert "line 8, column" in str(error)
    assert error.key == "fields.customer_goal.crm"


def test_given_field_declared_twice_then_refused_with_its_name(tmp_path):
    error = refused(tmp_path, MINIMAL + '\n[fields.customer_goal]\nrecord = "deal"\n')
    assert error.key == "fields.customer_goal"
    assert "declared twice" in str(error)


# --- structure ---------------------------------------------------------------------------

@pytest.mark.parametrize(("old", "new", "key", "hint"), [
    ('provider = "salesforce"', 'provider = "salesforce"\ncolour = 1', "colour", "allowed here"),
    ('type = "date"', 'typ = "date"', "fields.renewal_date.typ", "did you mean 'type'"),
    ('kind = "required"', 'kind = "required"\nvalu = 3', "handoff.rules[0].valu", "did you mean 'value'"),
    ("min_stakeholders = 1", "min_stakeholder = 1", "handoff.min_stakeholder", "did you mean"),
    ('key_field = "AfterClose_Key__c"', 'key_field = "AfterClose_Key__c"\nkey = "x"', "task.key",
     "unknown key"),
    ('subject = "', 'subjekt = "x"\nsubject = "', "templates.default.subjekt", "did you mean 'subject'"),
])
def test_given_unknown_key_at_any_level_then_refused(tmp_path, old, new, key, hint):
    error = refused(tmp_path, replaced(old, new))
    assert error.key == key
    assert hint in str(error)


@pytest.mark.parametrize(("old", "new", "key", "expected"), [
    ('crm = "Customer_Goal__c"', "crm = 5", "fields.customer_goal.crm", "quoted string"),
    ("write = true", 'write = "yes"', "fields.handoff_status.write", "true or false"),
    ("min_stakeholders = 1", "min_stakeholders = true", "handoff.min_stakeholders", "whole number"),
    ("min_stakeholders = 1", "min_stakeholders = 1.5", "handoff.min_stakeholders", "whole number"),
    ('options = ["complete", "incomplete"]', 'options = "complete"', "fields.handoff_status.options",
     "array"),
    ('options = ["complete", "incomplete"]', 'options = ["complete", 2]',
     "fields.handoff_status.options[1]", "quoted string"),
    ('[task]\nkey_field = "AfterClose_Key__c"', 'task = "AfterClose_Key__c"', "task", "table"),
    ('[fields.renewal_date]\nrecord = "deal"\ncrm = "Renewal_Date__c"\ntype = "date"',
     '[fields]\nrenewal_date = "Renewal_Date__c"', "fields.renewal_date", "table"),
])
def test_given_wrong_type_then_refused_naming_expected_type(tmp_path, old, new, key, expected):
    error = refused(tmp_path, replaced(old, new))
    assert error.key == key
    assert expected in str(error)


@pytest.mark.parametrize(("old", "key"), [
    ('provider = "salesforce"\n', "provider"),
    ('[task]\nkey_field = "AfterClose_Key__c"\n', "task"),
    ('key_field = "AfterClose_Key__c"\n', "task.key_field"),
    ('crm = "Customer_Goal__c"\n', "fields.customer_goal.crm"),
    ('record = "deal"\ncrm = "Renewal_Date__c"\n', "fields.renewal_date.record"),
    ('kind = "required"\n', "handoff.rules[0].kind"),
    ('field = "customer_goal"\nkind = "required"\n', "handoff.rules[0].field"),
])
def test_given_missing_required_key_then_refused(tmp_path, old, key):
    error = refused(tmp_path, replaced(old, ""))
    assert error.key == key
    assert "required key is missing" in str(error)


def test_given_no_default_template_then_refused(tmp_path):
    text = replaced("[templates.default]", "[templates.kickoff]")
    error = refused(tmp_path, text)
    assert error.key == "templates.default"
    assert "required template is missing" in str(error)


def test_given_template_without_body_then_refused(tmp_path):
    text = MINIMAL[: MINIMAL.index("body = ")]
    assert refused(tmp_path, text).key == "templates.default.body"


# --- values ------------------------------------------------------------------------------

@pytest.mark.parametrize(("old", "new", "key", "expected"), [
    ('type = "date"', 'type = "datum"', "fields.renewal_date.type", "unknown type 'datum'"),
    ('record = "deal"\ncrm = "Renewal_Date__c"', 'record = "opportunity"\ncrm = "Renewal_Date__c"',
     "fields.renewal_date.record", "expected one of: deal, company, contact"),
    ('provider = "salesforce"', 'provider = "pipedrive"', "provider", "expected one of: hubspot"),
    ('crm = "Customer_Goal__c"', 'crm = "Customer Goal"', "fields.customer_goal.crm", "not its label"),
    ('key_field = "AfterClose_Key__c"', 'key_field = ""', "task.key_field", "API name"),
])
def test_given_unknown_choice_or_bad_name_then_refused(tmp_path, old, new, key, expected):
    error = refused(tmp_path, replaced(old, new))
    assert error.key == key
    assert expected in str(error)


def test_given_enum_without_options_then_refused(tmp_path):
    error = refused(tmp_path, replaced('options = ["complete", "incomplete"]\n', ""))
    assert error.key == "fields.handoff_status.options"
    assert "needs its options" in str(error)


@pytest.mark.parametrize(("options", "key"), [
    ('["complete", "complete"]', "fields.handoff_status.options[1]"),
    ('["complete", "  "]', "fields.handoff_status.options[1]"),
    ("[]", "fields.handoff_status.options"),
])
def test_given_enum_with_blank_duplicate_or_no_options_then_refused(tmp_path, options, key):
    text = replaced('options = ["complete", "incomplete"]', f"options = {options}")
    assert refused(tmp_path, text).key == key


def test_given_options_on_text_field_then_refused(tmp_path):
    text = replaced('type = "text"', 'type = "text"\noptions = ["a"]')
    error = refused(tmp_path, text)
    assert error.key == "fields.customer_goal.options"
    assert "only apply to enum" in str(error)


@pytest.mark.parametrize(("name", "expected"), [
    ("close_date", "built-in placeholder"),
    ("deal_name", "built-in placeholder"),
    ("Customer-Goal", "lowercase letters"),
])
def test_given_reserved_or_malformed_canonical_name_then_refused(tmp_path, name, expected):
    text = MINIMAL + f'\n[fields.{name}]\nrecord = "deal"\ncrm = "Other__c"\ntype = "text"\n'
    error = refused(tmp_path, text)
    assert error.key == f"fields.{name}"
    assert expected in str(error)


def test_given_two_fields_on_same_crm_field_then_second_refused(tmp_path):
    error = refused(tmp_path, replaced('crm = "Renewal_Date__c"', 'crm = "customer_goal__C"'))
    assert error.key == "fields.renewal_date.crm"
    assert "already mapped by fields.customer_goal" in str(error)


# --- rules -------------------------------------------------------------------------------

def test_given_unknown_rule_kind_then_refused_with_suggestion(tmp_path):
    error = refused(tmp_path, replaced('kind = "min_length"', 'kind = "minlength"'))
    assert error.key == "handoff.rules[1].kind"
    assert "did you mean 'min_length'" in str(error)


def test_given_stakeholder_kind_as_field_rule_then_pointed_to_handoff_key(tmp_path):
    error = refused(tmp_path, replaced('kind = "required"', 'kind = "min_stakeholders"'))
    assert error.key == "handoff.rules[0].kind"
    assert "set handoff.min_stakeholders instead" in str(error)


def test_given_rule_on_undeclared_field_then_refused_with_suggestion(tmp_path):
    error = refused(tmp_path, replaced('field = "customer_goal"', 'field = "customer_gaol"'))
    assert error.key == "handoff.rules[0].field"
    assert "not declared under [fields]" in str(error) and "customer_goal" in str(error)


@pytest.mark.parametrize(("old", "new", "key", "expected"), [
    ("value = 10", 'value = "10"', "handoff.rules[1].value", "whole number"),
    ("value = 10", "value = 0", "handoff.rules[1].value", "1 or more"),
    ('kind = "required"', 'kind = "required"\nvalue = 1', "handoff.rules[0].value", "takes no value"),
    ('value = "close_date"', 'value = "customer_goal"', "handoff.rules[2].value", "not a date field"),
    ('value = "close_date"', 'value = "renewal_date"', "handoff.rules[2].value", "itself"),
    ('value = "close_date"', 'value = "closedate"', "handoff.rules[2].value", "did you mean"),
    ('value = "close_date"', "value = 3", "handoff.rules[2].value", "close_date"),
])
def test_given_rule_value_that_does_not_fit_its_kind_then_refused(tmp_path, old, new, key, expected):
    error = refused(tmp_path, replaced(old, new))
    assert error.key == key
    assert expected in str(error)


def test_given_min_length_on_date_field_then_refused(tmp_path):
    text = replaced('field = "renewal_date"\nkind = "date_after"\nvalue = "close_date"',
                    'field = "renewal_date"\nkind = "min_length"\nvalue = 3')
    error = refused(tmp_path, text)
    assert error.key == "handoff.rules[2].value"
    assert "applies to text fields" in str(error)


@pytest.mark.parametrize("value", ["[]", '["a", "a"]', '["a", ""]', '"a"'])
def test_given_bad_allowed_values_then_refused(tmp_path, value):
    text = replaced('kind = "required"', f'kind = "allowed_values"\nvalue = {value}')
    assert refused(tmp_path, text).key == "handoff.rules[0].value"


def test_given_same_rule_twice_then_refused(tmp_path):
    text = MINIMAL.replace("[templates.default]",
                           '[[handoff.rules]]\nfield = "customer_goal"\nkind = "required"\n\n'
                           "[templates.default]")
    error = refused(tmp_path, text)
    assert error.key == "handoff.rules[3]"
    assert "already declared" in str(error)


def test_given_negative_min_stakeholders_then_refused(tmp_path):
    assert refused(tmp_path, replaced("min_stakeholders = 1", "min_stakeholders = -1")).key == (
        "handoff.min_stakeholders")


# --- templates ---------------------------------------------------------------------------

@pytest.mark.parametrize(("body", "expected"), [
    ("Goal: {customer_gaol}", "unknown placeholder {customer_gaol} (did you mean 'customer_goal'?)"),
    ("Goal: {customer_goal", "unbalanced braces"),
    ("Goal: customer_goal}", "unbalanced braces"),
    ("Goal: {}", "empty placeholder"),
    ("Goal: {customer_goal.upper}", "plain name"),
    ("Goal: {customer_goal[0]}", "plain name"),
    ("Goal: {customer_goal!r}", "cannot carry a format"),
    ("Goal: {customer_goal:>20}", "cannot carry a format"),
])
def test_given_bad_placeholder_then_refused_naming_template(tmp_path, body, expected):
    error = refused(tmp_path, replaced("Goal: {customer_goal}", body))
    assert error.key == "templates.default.body"
    assert expected in str(error)


@pytest.mark.parametrize("subject", ['""', '"  "', '"two\\nlines"'])
def test_given_blank_or_multiline_subject_then_refused(tmp_path, subject):
    text = replaced('subject = "{touch_point_title}: {deal_name}"', f"subject = {subject}")
    assert refused(tmp_path, text).key == "templates.default.subject"


def test_given_template_id_not_a_touch_point_id_then_refused(tmp_path):
    text = MINIMAL + '\n[templates."Kick Off"]\nsubject = "x"\nbody = "y"\n'
    assert refused(tmp_path, text).key == 'templates."Kick Off"'


# --- vendor table, many problems, lines --------------------------------------------------

def test_given_other_vendors_table_then_refused(tmp_path):
    error = refused(tmp_path, MINIMAL + "\n[hubspot]\nportal = 1\n")
    assert error.key == "hubspot"
    assert "vendor settings go in [salesforce]" in str(error)


def test_given_several_problems_then_all_listed_in_one_error(tmp_path):
    text = replaced('type = "date"', 'type = "datum"',
                    replaced('kind = "min_length"', 'kind = "minlength"',
                             replaced("Goal: {customer_goal}", "Goal: {goal}")))
    error = refused(tmp_path, text)
    message = str(error)
    assert error.key == "fields.renewal_date.type"
    assert "and 2 more problem(s)" in message
    assert "handoff.rules[1].kind" in message and "templates.default.body" in message


def test_given_problem_then_message_names_its_line(tmp_path):
    text = replaced('type = "date"', 'type = "datum"')
    line = text.splitlines().index('type = "datum"') + 1
    assert f"(line {line})" in str(refused(tmp_path, text))


def test_given_problem_in_nth_rule_then_line_is_that_rules_line(tmp_path):
    text = replaced('value = "close_date"', 'value = "nowhere"')
    line = text.splitlines().index('value = "nowhere"') + 1
    assert f"(line {line})" in str(refused(tmp_path, text))


def test_given_text_without_source_then_parse_mapping_names_placeholder_source():
    with pytest.raises(ConfigError, match="<mapping>: provider"):
        parse_mapping(replaced('provider = "salesforce"', 'provider = "x"'))


def test_given_top_level_table_declared_twice_then_key_is_that_table(tmp_path):
    error = refused(tmp_path, MINIMAL + "\n[task]\n")
    assert error.key == "task"


def test_given_key_field_of_wrong_type_then_exactly_one_problem(tmp_path):
    error = refused(tmp_path, replaced('key_field = "AfterClose_Key__c"', "key_field = 7"))
    assert error.key == "task.key_field"
    assert "more problem" not in str(error)


def test_given_path_as_text_then_loaded_the_same(tmp_path):
    path = write(tmp_path, MINIMAL)
    assert load_mapping(str(path)) == load_mapping(path)
