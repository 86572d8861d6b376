"""Geometry of the console's pictures, drawn as SVG by the templates: a playbook's touch points on
a timeline from the close to the renewal, and horizontal bar charts. Pure: numbers in, shapes out."""

from __future__ import annotations

from dataclasses import dataclass

from jobs.core.playbook import Playbook
from jobs.core.touch_points import TouchPointRule

DAYS_PER_MONTH = 30.44
WIDTH = 1000
LEFT, RIGHT = 40, 40
AXIS_Y = 70
ROW_HEIGHT = 16
REPEATS_SHOWN = 12
"""A regular check-up drawn with at most this many occurrences in the first term."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Mark:
    x: float
    y: float
    day: int
    label: str
    touch_point: str
    repeat: bool
    """One of a regular check-up's later occurrences (drawn lighter)."""
    high: bool


@dataclass(frozen=True, kw_only=True, slots=True)
class Timeline:
    width: int
    height: int
    axis_y: int
    left: int
    right: float
    term_days: int
    marks: tuple[Mark, ...]
    ticks: tuple[tuple[float, str], ...]
    """(x, label): the close, each quarter, the renewal."""


def timeline(playbook: Playbook) -> Timeline:
    term = round(playbook.contract_term_months * DAYS_PER_MONTH)
    span = WIDTH - LEFT - RIGHT

    def x_of(day: int) -> float:
        return LEFT + span * min(max(day, 0), term) / term

    marks: list[Mark] = []
    for row, rule in enumerate(sorted(playbook.touch_points, key=lambda r: _first_day(r, term))):
        y = AXIS_Y + 24 + row * ROW_HEIGHT
        for number, day in enumerate(_days(rule, term)):
            label = f"{rule.title} (day {day})" if number == 0 else f"{rule.title}, again (day {day})"
            marks.append(Mark(x=x_of(day), y=y, day=day, label=label, touch_point=rule.id, repeat=number > 0,
                              high=rule.priority.value == "high"))
    ticks = tuple((x_of(day), text) for day, text in
                  [(0, "close"), *((round(q * term / 4), f"{q * playbook.contract_term_months // 4} mo")
                                   for q in (1, 2, 3)), (term, "renewal")])
    rows = len(playbook.touch_points)
    return Timeline(width=WIDTH, height=AXIS_Y + 40 + rows * ROW_HEIGHT, axis_y=AXIS_Y, left=LEFT,
                    right=WIDTH - RIGHT, term_days=term, marks=tuple(marks), ticks=ticks)


def _first_day(rule: TouchPointRule, term: int) -> int:
    return rule.offset_days if rule.anchor == "close" else term + rule.offset_days


def _days(rule: TouchPointRule, term: int) -> list[int]:
    """The days after the close a touch point falls on in the first contract term (business
    days drawn as calendar days: the picture shows the shape, the plan the exact dates)."""
    first = _first_day(rule, term)
    days = [first]
    repeat = rule.repeat
    if repeat is None:
        return days
    step = repeat.every if repeat.unit == "days" else round(repeat.every * DAYS_PER_MONTH)
    end = term + repeat.until_offset_days if repeat.until == "renewal" else \
        repeat.until_offset_days if repeat.until == "close" else term
    while len(days) < REPEATS_SHOWN and days[-1] + step <= min(end, term):
        days.append(days[-1] + step)
    return days


@dataclass(frozen=True, kw_only=True, slots=True)
class Bar:
    label: str
    y: float
    width: float
    """Of the filled part (``share`` of the full bar)."""
    full: float
    share: float
    text: str


@dataclass(frozen=True, kw_only=True, slots=True)
class BarChart:
    width: int
    height: int
    label_width: int
    bars: tuple[Bar, ...]


def bars(items: list[tuple[str, float, str]], *, label_width: int = 220, width: int = 720,
         bar_height: int = 22) -> BarChart:
    """``(label, share 0..1, text)`` per bar, in the order given."""
    full = width - label_width - 140
    drawn = tuple(Bar(label=label, y=8 + index * (bar_height + 8), width=full * max(0.0, min(share, 1.0)),
                      full=full, share=share, text=text) for index, (label, share, text) in enumerate(items))
    return BarChart(width=width, height=16 + len(items) * (bar_height + 8), label_width=label_width, bars=drawn)
