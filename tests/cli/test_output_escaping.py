"""What comes from data or config is printed as it is written: square brackets are not rich
markup, ``:name:`` is not an emoji code, and a closing tag with nothing to close does not stop
the command."""

from __future__ import annotations

import io

from rich.console import Console

from jobs.cli.demo import _show_rejected
from jobs.cli.output import console
from tests.cli.conftest import invoke

HOSTILE = "[bold]Acme[/] [red]:x:"
"""Markup, an emoji code and a tag that closes nothing (rich raises MarkupError on a bare [/])."""


def rename_deal(crm, deal_id: str, name: str) -> None:
    field = "dealname" if crm.provider == "hubspot" else "Name"
    crm.sandbox.edit("deals" if crm.provider == "hubspot" else "Opportunity", deal_id, {field: name})


def test_given_deal_named_with_markup_when_plan_then_the_table_shows_the_name_as_written(crm):
    rename_deal(crm, crm.deal_id("Oceanic Air"), HOSTILE)
    config = crm.config()
    invoke("setup", "--config", config)
    result = invoke("plan", "--config", config)
    assert result.exit_code == 0, result.stderr
    assert HOSTILE in result.stdout


def test_given_a_crm_refusal_with_markup_in_its_message_then_status_prints_it_as_written(hubspot):
    hubspot.sandbox.reject("deals", hubspot.deal_id("Oceanic Air"), f"Rule {HOSTILE} says no")
    config = hubspot.config()
    invoke("setup", "--config", config)
    assert invoke("run", "--config", config).exit_code == 1
    out = invoke("status", "--config", config)
    assert out.exit_code == 0, out.stderr
    assert f"Rule {HOSTILE} says no" in out.stdout


def test_given_the_demo_hint_then_the_playbook_section_name_is_shown():
    stream = io.StringIO()
    _show_rejected(Console(file=stream, width=200), [], lambda deal_id: deal_id)
    assert stream.getvalue() == ""  # nothing refused, nothing said
    from connector.actions import ActionResult, Outcome, Skip

    refused = ActionResult(action=Skip(deal_id="1", key="k", reason="r"), outcome=Outcome.REJECTED,
                           message="owner [inactive]")
    _show_rejected(Console(file=stream, width=200), [refused], lambda deal_id: f"deal {deal_id}")
    text = stream.getvalue()
    assert "`[playbook] fallback_owner`" in text and "owner [inactive]" in text


def test_given_the_commands_console_then_markup_and_emoji_codes_are_text():
    out = console()
    out.file = stream = io.StringIO()
    out.print(HOSTILE)
    assert stream.getvalue().strip() == HOSTILE


def test_given_a_deal_name_with_terminal_escapes_then_plan_prints_the_words_without_them(hubspot):
    rename_deal(hubspot, hubspot.deal_id("Oceanic Air"), "\x1b[2J\x1b]0;pwned\x07Oceanic \u202eAir")
    config = hubspot.config()
    invoke("setup", "--config", config)
    result = invoke("plan", "--config", config)
    assert result.exit_code == 0, result.stderr
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout and "\u202e" not in result.stdout
    assert "Oceanic Air" in result.stdout
