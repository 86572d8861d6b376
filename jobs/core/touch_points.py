"""Touch points: what a playbook asks the owner to do, and when, relative to the close or the
renewal; optionally repeating (regular check-ups). Pure values; jobs/core/playbook.py plans them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from connector.model import Priority, TaskType

Anchor = Literal["close", "renewal", "detected"]
"""``detected``: the day AfterClose first saw the condition (only the handoff task uses it)."""
RepeatUnit = Literal["days", "months"]

TOUCH_POINT_ID = re.compile(r"[a-z][a-z0-9_]{0,39}")
ANCHORS = ("close", "renewal", "detected")
MAX_OCCURRENCES = 9999
"""Occurrence n of a repeating touch point is cycle n of its task key (keys allow 0-9999)."""
_ANCHOR_WORDS = {"close": "close", "renewal": "renewal", "detected": "first detection"}


@dataclass(frozen=True, kw_only=True, slots=True)
class Repeat:
    """A regular check-up: the first occurrence is the touch point's own offset; then one every
    ``every`` days or months, until an end (``until``) and/or only within ``horizon_days``.

    ``until = "renewal"`` ends the occurrences ``until_offset_days`` around *each* renewal date
    (-60: none in the 60 days before a renewal, the renewal ladder's time) and lets them carry on
    after it, when the renewal rolls forward; ``until = "close"`` ends the series for good,
    ``until_offset_days`` after the close. ``horizon_days``: only occurrences due within that many
    days from today are created (the next ones follow as their day comes near), so a customer of
    five years does not get twenty open tasks. A repeat needs an end or a horizon.
    """

    every: int
    unit: RepeatUnit = "months"
    until: Literal["close", "renewal"] | None = None
    until_offset_days: int = 0
    horizon_days: int | None = None

    def problems(self) -> list[str]:
        out = []
        if self.every < 1:
            out.append(f"repeat.every must be 1 or more, got {self.every}")
        if self.unit not in ("days", "months"):
            out.append(f"repeat.unit must be 'days' or 'months', got {self.unit!r}")
        if self.until not in (None, "close", "renewal"):
            out.append(f"repeat.until must be 'close' or 'renewal', got {self.until!r}")
        if self.horizon_days is not None and self.horizon_days < 1:
            out.append(f"repeat.horizon_days must be 1 or more, got {self.horizon_days}")
        if self.until is None and self.horizon_days is None:
            out.append("a repeat needs an end (repeat.until) or a horizon (repeat.horizon_days); without "
                       "either it would plan occurrences without limit")
        return out

    def describe(self) -> str:
        """"every 3 months until 60 days before each renewal, created 30 days ahead"."""
        unit = self.unit[:-1] if self.every == 1 else self.unit
        text = f"every {self.every} {unit}" if self.every != 1 else f"every {unit}"
        if self.until == "renewal":
            text += f" until {_days_around(self.until_offset_days, 'each renewal')}"
        elif self.until == "close":
            text += f" until {_days_around(self.until_offset_days, 'the close')}"
        if self.horizon_days is not None:
            text += f", each created {self.horizon_days} days ahead"
        return text


def _days_around(offset: int, anchor: str) -> str:
    if offset == 0:
        return anchor
    count = abs(offset)
    return f"{count} day{'' if count == 1 else 's'} {'after' if offset > 0 else 'before'} {anchor}"


@dataclass(frozen=True, kw_only=True, slots=True)
class TouchPointRule:
    id: str
    """Stable identifier: part of every task key, so renaming it creates new tasks."""
    title: str
    anchor: Anchor
    offset_days: int
    business_days: bool = False
    type: TaskType = TaskType.TODO
    priority: Priority = Priority.NORMAL
    purpose: str = ""
    """What the touch point is for, in a sentence a rep reads in the task ("Agree how success
    will be measured"); empty: the task's template says it."""
    repeat: Repeat | None = None

    def __post_init__(self) -> None:
        if not TOUCH_POINT_ID.fullmatch(self.id):
            raise ValueError(
                f"touch point id {self.id!r} must be 1-40 characters of a-z, 0-9 and _, "
                "starting with a letter (it becomes part of the task key)"
            )
        if self.anchor not in ANCHORS:
            raise ValueError(f"touch point {self.id!r}: anchor must be one of {ANCHORS}, got {self.anchor!r}")
        if not self.title.strip():
            raise ValueError(f"touch point {self.id!r}: title must not be empty")
        if self.repeat is not None:
            self._check_repeat(self.repeat)

    def _check_repeat(self, repeat: Repeat) -> None:
        problems = repeat.problems()
        if self.anchor != "close":
            problems.append("a repeating touch point starts from the close (anchor = 'close'); end it "
                            "around the renewal with repeat.until = 'renewal'")
        if repeat.until == "close" and repeat.until_offset_days < self.offset_days:
            problems.append(f"repeat ends {repeat.until_offset_days} days after the close, before its first "
                            f"occurrence ({self.offset_days} days after the close)")
        if problems:
            raise ValueError(f"touch point {self.id!r}: {'; '.join(problems)}")

    def describe_offset(self) -> str:
        """'2 business days after close', '120 days before renewal', 'on the close date'."""
        anchor = _ANCHOR_WORDS[self.anchor]
        if self.offset_days == 0:
            return f"on the {anchor} date"
        unit = "business day" if self.business_days else "day"
        count = abs(self.offset_days)
        plural = "" if count == 1 else "s"
        side = "after" if self.offset_days > 0 else "before"
        return f"{count} {unit}{plural} {side} {anchor}"

    def describe(self) -> str:
        """The offset in words, with the repeat: '90 days after close, then every 3 months ...'."""
        first = self.describe_offset()
        return first if self.repeat is None else f"{first}, then {self.repeat.describe()}"


HANDOFF_TASK = TouchPointRule(
    id="handoff_incomplete",
    title="Complete the handoff",
    anchor="detected",
    offset_days=1,
    business_days=True,
    type=TaskType.TODO,
    priority=Priority.HIGH,
    purpose="Customer success cannot prepare the kickoff until the handoff fields are filled in.",
)
