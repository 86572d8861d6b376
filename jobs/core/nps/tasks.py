"""The NPS follow-up tasks: their rules, titles and default templates. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from connector.mapping import FieldMap, TaskTemplate
from connector.model import (
    Priority,
    TaskType,
)
from jobs.core.nps.match import DETRACTOR_TOUCH_POINT, REFERRAL_ASK_TOUCH_POINT


@dataclass(frozen=True, slots=True)
class _TaskRule:
    priority: Priority
    type: TaskType
    due_setting: str


TASK_RULES = {
    DETRACTOR_TOUCH_POINT: _TaskRule(Priority.HIGH, TaskType.CALL, "detractor_due_business_days"),
    REFERRAL_ASK_TOUCH_POINT: _TaskRule(Priority.NORMAL, TaskType.TODO, "ask_due_business_days"),
}
TITLES = {
    DETRACTOR_TOUCH_POINT: "Detractor follow-up",
    REFERRAL_ASK_TOUCH_POINT: "Ask for a referral",
}
TEMPLATE_IDS = {DETRACTOR_TOUCH_POINT: "detractor_followup", REFERRAL_ASK_TOUCH_POINT: "referral_ask"}
"""The mapping's template for each NPS task: the ids the built-in mapping files (and
mappings/README.md) use; a template named after the touch point itself is accepted too."""


def template_for(fieldmap: FieldMap, touch_point: str) -> TaskTemplate:
    templates = fieldmap.templates
    return templates.get(TEMPLATE_IDS[touch_point]) or templates.get(touch_point) or DEFAULT_TEMPLATES[touch_point]


DEFAULT_TEMPLATES = {
    DETRACTOR_TOUCH_POINT: TaskTemplate(
        subject="Call {company_name}: NPS {nps_score} (detractor)",
        body=("{respondent} answered the NPS survey with {nps_score} on {responded_on}.\n"
              "Comment: {nps_comment}\n\n"
              "Call within one business day: listen first, find what went wrong, agree on a fix and a date.\n"
              "Deal: {deal_name} (closed {close_date})\nStakeholders:\n{stakeholders}\n"),
    ),
    REFERRAL_ASK_TOUCH_POINT: TaskTemplate(
        subject="Ask {company_name} for a referral (NPS {nps_score})",
        body=("{respondent} answered the NPS survey with {nps_score} on {responded_on}: a promoter.\n"
              "Comment: {nps_comment}\n\n"
              "Thank them, then ask who else would benefit. When a new deal comes from it, name "
              "{company_name} as its referrer on the deal.\n"
              "Deal: {deal_name} (closed {close_date})\nStakeholders:\n{stakeholders}\n"),
    ),
}
