"""Several playbooks, one per deal: the first whose ``when`` holds is the deal's playbook. Pure.

The set is tried in order and must end with a default (a playbook without a condition), so every
deal gets exactly one playbook; a default anywhere else would hide the playbooks after it, and
two playbooks with one id could not be told apart in the plan or in a task: all three are refused
when the set is built. The playbooks share one calendar (zone, workdays, holidays, due hour,
catch-up days): a deal moving between segments keeps the days its tasks fall on.
"""

from __future__ import annotations

from dataclasses import dataclass

from connector.model import Deal
from jobs.core.conditions import ALWAYS, AllOf, Condition, describe, evaluate
from jobs.core.playbook import Playbook
from jobs.core.touch_points import TouchPointRule

ONLY_PLAYBOOK = "the only playbook"
"""``Choice.because`` when the set has one playbook (nothing was chosen)."""
_SHARED = ("timezone", "workdays", "holidays", "due_hour", "catch_up_days", "owner_field", "fallback_owner")
"""What every playbook of a set must agree on (the calendar and who gets the tasks)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Segment:
    playbook: Playbook
    when: Condition = ALWAYS

    @property
    def is_default(self) -> bool:
        return isinstance(self.when, AllOf) and not self.when.parts


@dataclass(frozen=True, kw_only=True, slots=True)
class Choice:
    playbook: Playbook
    because: str
    """Why this playbook, in words: the facts of the condition that matched."""

    @property
    def id(self) -> str:
        return self.playbook.id


@dataclass(frozen=True, kw_only=True, slots=True)
class PlaybookSet:
    segments: tuple[Segment, ...]
    library: tuple[TouchPointRule, ...] = ()
    """Touch points defined but in no playbook (removed from one, or kept for later): a task of
    one is still worded when AfterClose notes why it closes it."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "segments", tuple(self.segments))
        object.__setattr__(self, "library", tuple(self.library))
        if not self.segments:
            raise ValueError("playbooks: at least one playbook is needed")
        seen: set[str] = set()
        for index, segment in enumerate(self.segments):
            ident = segment.playbook.id
            if ident in seen:
                raise ValueError(f"playbooks[{index}]: the id {ident!r} is used by two playbooks; ids must be unique")
            seen.add(ident)
            last = index == len(self.segments) - 1
            if segment.is_default and not last:
                later = ", ".join(s.playbook.id for s in self.segments[index + 1:])
                raise ValueError(f"playbooks[{index}] ({ident!r}) has no `when`, so it takes every deal and the "
                                 f"playbooks after it ({later}) would never be chosen: move it to the end")
            if last and not segment.is_default:
                raise ValueError(f"playbooks[{index}] ({ident!r}) is the last playbook but has a `when`: deals it "
                                 "does not match would get no playbook. End the list with a default playbook "
                                 "(one without `when`)")
            self._check_shared(index, segment.playbook)

    def _check_shared(self, index: int, playbook: Playbook) -> None:
        first = self.segments[0].playbook
        for name in _SHARED:
            if getattr(playbook, name) != getattr(first, name):
                raise ValueError(f"playbooks[{index}] ({playbook.id!r}): {name} differs from the first playbook's; "
                                 "the playbooks of one set share their calendar and owners")

    @classmethod
    def of(cls, playbook: Playbook, library: tuple[TouchPointRule, ...] = ()) -> PlaybookSet:
        return cls(segments=(Segment(playbook=playbook),), library=library)

    @property
    def calendar(self) -> Playbook:
        """The calendar every playbook shares (the first playbook carries it)."""
        return self.segments[0].playbook

    @property
    def playbooks(self) -> tuple[Playbook, ...]:
        return tuple(segment.playbook for segment in self.segments)

    @property
    def has_renewal_deals(self) -> bool:
        """Whether any playbook is for renewal deals (then customers' deals are followed across runs)."""
        return any(p.renewal_deal for p in self.playbooks)

    def choose(self, deal: Deal) -> Choice:
        """The deal's playbook: the first whose condition holds (the last one always does)."""
        if len(self.segments) == 1:
            return Choice(playbook=self.segments[0].playbook, because=ONLY_PLAYBOOK)
        for segment in self.segments:
            verdict = evaluate(segment.when, deal)
            if verdict.holds:
                because = verdict.because if not segment.is_default else "no other playbook's condition holds"
                return Choice(playbook=segment.playbook, because=because)
        raise AssertionError("the last playbook is a default")  # refused in __post_init__

    def rule(self, touch_point: str) -> TouchPointRule | None:
        """The touch point as the first playbook that has it (or the library) defines it, to word a
        closing note."""
        for playbook in self.playbooks:
            found = playbook.rule(touch_point)
            if found is not None:
                return found
        return next((r for r in self.library if r.id == touch_point), None)

    def describe(self) -> list[str]:
        """One line per playbook, in the order they are tried."""
        return [f"{s.playbook.id} ({s.playbook.title}): "
                f"{'every other deal' if s.is_default else describe(s.when)}" for s in self.segments]


def as_set(playbooks: Playbook | PlaybookSet) -> PlaybookSet:
    return playbooks if isinstance(playbooks, PlaybookSet) else PlaybookSet.of(playbooks)
