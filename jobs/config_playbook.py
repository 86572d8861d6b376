"""The ``[playbook]`` section: touch points, playbooks chosen per deal, regular check-ups and
renewal deals, and the calendar they are counted in. Validated here for shape; jobs/playbooks
turns them into the core's PlaybookSet and checks what needs the mapping (docs/playbooks.md).
A playbook file (``[playbook] file``) holds the same ``touch_points`` and ``playbooks`` tables.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from connector.model import Priority, TaskType
from connector.settings import Section, problem

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class RepeatSection(Section):
    every: int = Field(ge=1, description="A regular check-up: one every this many days or months after the first.")
    unit: Literal["days", "months"] = Field("months", description="days or months.")
    until: Literal["close", "renewal"] | None = Field(
        None, description="Where the repeats end: 'renewal' (until_offset around each renewal date; they carry "
                          "on in the next contract term) or 'close' (until_offset days after the close, for good).",
    )
    until_offset: int = Field(0, description="Days after (positive) or before (negative) the `until` anchor.")
    horizon_days: int | None = Field(
        None, ge=1, description="Only occurrences due within this many days are created; the next ones follow "
                                "as their day comes near.",
    )

    @model_validator(mode="after")
    def _bounded(self) -> RepeatSection:
        if self.until is None and self.horizon_days is None:
            raise problem("until", "a repeat needs an end (until) or a horizon (horizon_days); without either "
                                   "it would plan check-ups without limit")
        return self


class TouchPointSection(Section):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$",
                    description="Stable id (part of every task key: renaming creates new tasks).")
    title: str = Field(min_length=1, description="What the task asks the owner to do.")
    anchor: Literal["close", "renewal"] = Field(description="Counted from the close date or the renewal date.")
    offset: int = Field(0, description="Days after (positive) or before (negative) the anchor.")
    business_days: bool = Field(False, description="Count only workdays (minus holidays) in the offset.")
    type: TaskType = Field(TaskType.TODO, description="call, email or todo.")
    priority: Priority = Field(Priority.NORMAL, description="high, normal or low.")
    purpose: str = Field("", description="What the touch point is for, in one sentence a rep reads in the task.")
    repeat: RepeatSection | None = Field(None, description="Makes it a regular check-up (anchor must be 'close').")


class RenewalDealSection(Section):
    """``create_renewal_deal`` on a playbook: create each deal's next renewal deal (docs/playbooks.md)."""

    days_before: int = Field(ge=0, le=3660, description="Days before the renewal date the renewal deal is created.")
    stage: str = Field(min_length=1, description="Stage it is created in (HubSpot stage id, Salesforce stage name).")
    pipeline: str | None = Field(None, min_length=1, description="HubSpot: the pipeline id the stage belongs to.")
    owner: str = Field("deal_owner", min_length=1, description='"deal_owner" (the won deal\'s owner) or a CRM user id.')
    amount_field: str = Field("amount", min_length=1,
                              description='"amount" (the won deal\'s amount) or a mapped deal field to take it from.')
    deal_type: str | None = Field(
        None, min_length=1, description="Value written to the mapped deal_type field, so that the deal gets the "
                                        "renewal playbook once it is won.",
    )


class PlaybookEntrySection(Section):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$", description="Stable id, shown in the plan and in `status`.")
    title: str = Field(min_length=1, description="How reps see the playbook named in their tasks.")
    when: dict[str, Any] | None = Field(
        None, description="Which deals get it (docs/playbooks.md); none: the default, which must come last.",
    )
    touch_points: list[str] = Field(min_length=1, description="Ids of its touch points (yours or the built-in ones).")
    handoff_task: bool = Field(True, description="Give the deal owner a task when the handoff is incomplete.")
    renewal_deal: bool = Field(
        False, description="Its deals are renewal deals: they carry the customer's renewals, and the customer's "
                           "earlier deals stop planning theirs.",
    )
    roll_forward: bool = Field(
        True, description="Plan the renewal ladder again every contract term; false: only the first renewal.",
    )
    create_renewal_deal: RenewalDealSection | None = Field(
        None, description="Create each deal's next renewal deal some days before its renewal date.",
    )


class PlaybookSection(Section):
    timezone: str = Field("UTC", description="IANA zone that due dates and workdays are counted in.")
    workdays: tuple[int, ...] = Field(
        (0, 1, 2, 3, 4), description='Workdays as names ("mon" ... "sun"); held as 0 (Monday) to 6 (Sunday).'
    )
    holidays: tuple[dt.date, ...] = Field((), description="Dates that are not workdays.")
    due_hour: int = Field(9, ge=0, le=23, description="Hour of the day (local) tasks fall due.")
    catch_up_days: int = Field(7, ge=0,
                               description="A touch point more overdue than this on its first plan is skipped.")
    contract_term_months: int = Field(12, ge=1, description="Renewal period when the deal has no renewal date.")
    owner_field: str | None = Field(
        None, description="Canonical field holding the task owner (e.g. the CSM); default: the deal owner.")
    fallback_owner: str | None = Field(
        None, description="CRM user id that gets the tasks of deals whose owner is deactivated or missing; "
                          "unset: the CRM refuses those tasks (reported, retried each run).",
    )
    touch_points: list[TouchPointSection] | None = Field(
        None, min_length=1,
        description="Without `playbooks`: every deal's touch points (replacing the built-in ones). With them: "
                    "touch points the playbooks can use besides the built-in ones.",
    )
    playbooks: list[PlaybookEntrySection] | None = Field(
        None, min_length=1,
        description="Several playbooks, tried in order; the first whose `when` holds is the deal's.",
    )
    file: Path | None = Field(
        None, description="A playbook file (touch_points and playbooks, the same keys) instead of listing them here.",
    )
    builtin_segments: bool = Field(
        True, description="With no playbooks of your own: true chooses between the built-in new business, expansion "
                          "and renewal deal playbooks by deal type; false gives every deal the new-business one.",
    )

    @field_validator("workdays", mode="before")
    @classmethod
    def _weekday_numbers(cls, value: Any) -> Any:
        if not isinstance(value, list | tuple):
            return value
        return tuple(_weekday_number(day) for day in value)

    @field_validator("workdays")
    @classmethod
    def _some_workday(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value:
            raise ValueError("needs at least one workday")
        if not set(value) <= set(range(7)):
            raise ValueError("weekday numbers run from 0 (Monday) to 6 (Sunday)")
        return tuple(sorted(set(value)))

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return require_zone(value)



def require_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}; use an IANA name like 'Europe/Berlin'") from None
    return value


def _weekday_number(day: Any) -> Any:
    if isinstance(day, str) and day.strip().lower()[:3] in WEEKDAYS:
        return WEEKDAYS.index(day.strip().lower()[:3])
    if isinstance(day, str):
        raise ValueError(f"unknown weekday {day!r}; use {', '.join(WEEKDAYS)}")
    return day
