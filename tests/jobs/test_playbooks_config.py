"""Playbooks from the config, a playbook file, or the built-in set; every mistake is named by file,
playbook and key before anything is read from or written to the CRM."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from connector.errors import ConfigError
from connector.mapping import builtin_mapping, load_mapping
from connector.model import Provider
from jobs.config import Settings, SettingsError
from jobs.core.playbook import DEFAULT_PLAYBOOK
from jobs.playbooks import build_playbooks, builtin_playbooks_file
from tests.builders import complete_fields, make_deal, make_fieldmap, renewal_deal_mapping

HUBSPOT = '[crm]\nprovider = "hubspot"\n[hubspot]\naccess_token = "pat-na1-token"\n'
FIELDMAP = load_mapping(builtin_mapping(Provider.HUBSPOT))
EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "playbooks-example.toml"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("AFTERCLOSE_"):
            monkeypatch.delenv(name)


def settings_with(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "config.toml"
    path.write_text(HUBSPOT + text, encoding="utf-8")
    return Settings.load(path)


def built(tmp_path: Path, text: str = "", fieldmap=FIELDMAP):
    return build_playbooks(settings_with(tmp_path, text), fieldmap)


def refused(tmp_path: Path, text: str, fieldmap=FIELDMAP) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        built(tmp_path, text, fieldmap)
    return caught.value


@pytest.mark.parametrize("provider", list(Provider))
def test_given_no_playbooks_configured_then_the_built_in_set_chooses_by_deal_type(tmp_path, provider):
    fieldmap = load_mapping(builtin_mapping(provider))
    playbooks = build_playbooks(Settings.from_mapping({"crm": {"provider": provider.value},
                                                       provider.value: _credentials(provider)}), fieldmap)
    assert [p.id for p in playbooks.set.playbooks] == ["renewal", "expansion", "new_business"]
    assert playbooks.source == str(builtin_playbooks_file(provider)) and playbooks.notes == ()
    renewal_value = "renewal" if provider is Provider.HUBSPOT else "Renewal"
    choose = playbooks.set.choose
    assert choose(make_deal(fields=complete_fields(deal_type=renewal_value))).id == "renewal"
    assert choose(make_deal(fields=complete_fields(deal_type=None))).id == "new_business"
    assert playbooks.set.playbooks[0].renewal_deal and not playbooks.set.playbooks[0].handoff


def test_the_built_in_new_business_playbook_holds_the_default_touch_points_and_a_regular_health_check(tmp_path):
    new_business = built(tmp_path).set.playbooks[-1]
    assert [r for r in new_business.touch_points if r.id != "health_check"] == list(DEFAULT_PLAYBOOK.touch_points)
    health = new_business.rule("health_check")
    assert health is not None and health.repeat is not None and health.repeat.horizon_days == 45


def test_given_builtin_segments_off_then_every_deal_gets_the_new_business_playbook(tmp_path):
    playbooks = built(tmp_path, "[playbook]\nbuiltin_segments = false\n")
    assert [p.id for p in playbooks.set.playbooks] == ["new_business"]


def test_given_only_touch_points_then_every_deal_gets_those_as_before(tmp_path):
    playbooks = built(tmp_path, '[[playbook.touch_points]]\nid = "kickoff"\ntitle = "Kickoff"\nanchor = "close"\n'
                                'offset = 3\n')
    [playbook] = playbooks.set.playbooks
    assert [r.id for r in playbook.touch_points] == ["kickoff"] and playbook.id == "default"


def test_given_playbooks_in_the_config_then_they_use_their_own_and_the_built_in_touch_points(tmp_path):
    playbooks = built(tmp_path, """
[[playbook.touch_points]]
id = "exec_sponsor_call"
title = "Executive sponsor call"
anchor = "close"
offset = 10

[[playbook.playbooks]]
id = "enterprise"
title = "Enterprise"
when = { all = [{ field = "deal_type", equals = "newbusiness" }, { field = "amount", at_least = 50000 }] }
touch_points = ["kickoff", "exec_sponsor_call", "renewal_decision"]

[[playbook.playbooks]]
id = "smb"
title = "Small business"
touch_points = ["onboarding_checkup"]
""")
    enterprise, _ = playbooks.set.playbooks
    assert [r.id for r in enterprise.touch_points] == ["kickoff", "exec_sponsor_call", "renewal_decision"]
    big = make_deal(amount="75000", fields=complete_fields(deal_type="newbusiness"))
    assert playbooks.set.choose(big).id == "enterprise" and playbooks.set.choose(make_deal(amount="900")).id == "smb"


def test_given_a_condition_on_a_field_the_mapping_does_not_declare_then_the_error_names_file_playbook_and_key(tmp_path):
    error = refused(tmp_path, """
[[playbook.playbooks]]
id = "enterprise"
title = "Enterprise"
when = { any = [{ field = "amount", at_least = 50000 }, { field = "segment_size", equals = "large" }] }
touch_points = ["kickoff"]

[[playbook.playbooks]]
id = "rest"
title = "Rest"
touch_points = ["kickoff"]
""")
    assert error.source == str(tmp_path / "config.toml")
    assert error.key == "playbook.playbooks[0].when.any[1].field"
    assert "playbook 'enterprise': the condition tests 'segment_size', which is neither a deal field" in str(error)
    assert "map it under [fields.segment_size]" in str(error)


@pytest.mark.parametrize("when, key, message", [
    ('{ field = "amount", more_than = 5 }', "when.more_than", "unknown key"),
    ('{ field = "amount" }', "when", "tests nothing"),
    ('{ field = "amount", at_least = "big" }', "when.at_least", "must be a number"),
    ('{ all = [] }', "when.all", "non-empty list"),
    ('{ all = [{ field = "amount", empty = true }], field = "x" }', "when", "holds nothing else"),
    ('"deal_type = renewal"', "when", "must be a table"),
])
def test_given_a_malformed_condition_then_the_error_names_the_key_inside_it(tmp_path, when, key, message):
    text = (f'[[playbook.playbooks]]\nid = "a"\ntitle = "A"\nwhen = {when}\ntouch_points = ["kickoff"]\n'
            '[[playbook.playbooks]]\nid = "b"\ntitle = "B"\ntouch_points = ["kickoff"]\n')
    if when.startswith('"'):
        with pytest.raises(SettingsError) as caught:
            settings_with(tmp_path, text)
        assert "playbook.playbooks[0].when" in caught.value.problems[0][0]
        return
    error = refused(tmp_path, text)
    assert error.key == f"playbook.playbooks[0].{key}" and message in str(error) and "playbook 'a'" in str(error)


def test_given_two_playbooks_with_one_id_then_the_settings_name_the_second(tmp_path):
    with pytest.raises(SettingsError) as caught:
        settings_with(tmp_path, '[[playbook.playbooks]]\nid = "a"\ntitle = "A"\ntouch_points = ["kickoff"]\n'
                                '[[playbook.playbooks]]\nid = "a"\ntitle = "Again"\ntouch_points = ["kickoff"]\n')
    assert dict(caught.value.problems) == {"playbook.playbooks[1].id": "'a' is used twice; ids must be unique"}


def test_given_a_repeat_with_no_end_and_no_horizon_then_the_settings_name_the_touch_point_key(tmp_path):
    with pytest.raises(SettingsError) as caught:
        settings_with(tmp_path, '[[playbook.touch_points]]\nid = "qbr"\ntitle = "QBR"\nanchor = "close"\n'
                                'offset = 90\nrepeat = { every = 3 }\n')
    [(key, message)] = caught.value.problems
    assert key == "playbook.touch_points[0].repeat.until" and "needs an end (until) or a horizon" in message


@pytest.mark.parametrize("entries, key, message", [
    ('[[playbooks]]\nid = "a"\ntitle = "A"\ntouch_points = ["kick_off"]\n', "playbooks[0].touch_points[0]",
     "playbook 'a': no touch point 'kick_off' (did you mean 'kickoff'?)"),
    ('[[playbooks]]\nid = "a"\ntitle = "A"\ntouch_points = ["kickoff"]\n'
     '[[playbooks]]\nid = "b"\ntitle = "B"\nwhen = { field = "amount", at_least = 1 }\ntouch_points = ["kickoff"]\n',
     "playbooks", "playbooks[0] ('a') has no `when`, so it takes every deal"),
    ('[[touch_points]]\nid = "qbr"\ntitle = "QBR"\nanchor = "renewal"\noffset = -200\n'
     'repeat = { every = 3, until = "renewal", until_offset = -30 }\n'
     '[[playbooks]]\nid = "a"\ntitle = "A"\ntouch_points = ["qbr"]\n', "touch_points[0]", "starts from the close"),
])
def test_given_a_playbook_file_with_a_mistake_then_the_error_names_the_file_and_the_key(tmp_path, entries, key,
                                                                                      message):
    playbook_file = tmp_path / "my-playbooks.toml"
    playbook_file.write_text(entries, encoding="utf-8")
    error = refused(tmp_path, f'[playbook]\nfile = "{playbook_file}"\n')
    assert (error.source, error.key) == (str(playbook_file), key) and message in str(error)


def test_given_a_playbook_file_with_an_unknown_key_then_the_error_names_the_file(tmp_path):
    playbook_file = tmp_path / "my-playbooks.toml"
    playbook_file.write_text('[[playbooks]]\nid = "a"\ntitle = "A"\ntouch_point = ["kickoff"]\n', encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        built(tmp_path, f'[playbook]\nfile = "{playbook_file}"\n')
    assert caught.value.source == str(playbook_file)
    assert "playbooks[0].touch_point" in dict(caught.value.problems)


def test_given_a_playbook_file_and_playbooks_in_the_config_then_refused(tmp_path):
    playbook_file = tmp_path / "p.toml"
    playbook_file.write_text("", encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        settings_with(tmp_path, f'[playbook]\nfile = "{playbook_file}"\n'
                                '[[playbook.playbooks]]\nid = "a"\ntitle = "A"\ntouch_points = ["kickoff"]\n')
    assert "not both" in dict(caught.value.problems)["playbook.file"]


def test_given_the_built_in_set_and_a_mapping_without_deal_type_then_a_note_says_every_deal_is_new_business(tmp_path):
    playbooks = built(tmp_path, "", make_fieldmap())
    assert [note.split(": ", 1)[1] for note in playbooks.notes] == [
        f"playbook '{ident}': deal_type is not mapped in tests/builders.py, so this playbook is never chosen "
        "(map it to tell these deals apart)" for ident in ("renewal", "expansion")]
    assert playbooks.set.choose(make_deal(fields={})).id == "new_business"


def test_the_worked_example_in_the_docs_loads(tmp_path):
    # Its enterprise playbook creates renewal deals: the mapping's renewal_deal_key is uncommented.
    playbooks = built(tmp_path, f'[playbook]\nfile = "{EXAMPLE}"\n', renewal_deal_mapping(Provider.HUBSPOT))
    assert [p.id for p in playbooks.set.playbooks] == ["renewal", "expansion", "enterprise", "smb"]
    big = make_deal(amount="120000", fields=complete_fields(deal_type="newbusiness"))
    assert playbooks.set.choose(big).id == "enterprise"
    rule = playbooks.set.choose(big).playbook.create_renewal_deal
    assert rule is not None and (rule.days_before, rule.stage, rule.deal_type) == (120, "appointmentscheduled",
                                                                                  "renewal")


def _credentials(provider: Provider) -> dict[str, str]:
    if provider is Provider.HUBSPOT:
        return {"access_token": "pat-na1-token"}
    return {"instance_url": "https://example.my.salesforce.com", "access_token": "00D-token"}
