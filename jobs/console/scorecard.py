"""The handoff scorecard: how completely each owner hands customers over, month by month, and
which handoff fields are missing most often. Pure: won deals and the mapping in, counts out (the
handoff check is the run's own, jobs/core/handoff.py)."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from connector.mapping import FieldMap
from connector.model import Deal
from jobs.core import handoff

NO_OWNER = "(no owner)"
NO_DATE = "(no close date)"


@dataclass(frozen=True, kw_only=True, slots=True)
class DealLine:
    deal: Deal
    owner: str
    month: str
    report: handoff.HandoffReport


@dataclass(frozen=True, kw_only=True, slots=True)
class Group:
    name: str
    deals: int
    complete: int

    @property
    def share(self) -> float:
        return self.complete / self.deals if self.deals else 0.0


@dataclass(frozen=True, kw_only=True)
class Scorecard:
    lines: tuple[DealLine, ...]
    by_owner: tuple[Group, ...]
    by_month: tuple[Group, ...]
    missing: tuple[tuple[str, int], ...]
    """Handoff field label, how many deals lack it: most often missing first."""

    @property
    def complete(self) -> int:
        return sum(1 for line in self.lines if line.report.complete)


def owner_name(deal: Deal) -> str:
    if deal.owner is None:
        return NO_OWNER
    return deal.owner.name or deal.owner.email or deal.owner.id


def scorecard(deals: tuple[Deal, ...] | list[Deal], fieldmap: FieldMap) -> Scorecard:
    lines = tuple(DealLine(deal=d, owner=owner_name(d), month=d.close_date.strftime("%Y-%m") if d.close_date
                           else NO_DATE, report=handoff.check(d, fieldmap)) for d in deals)
    missing: Counter[str] = Counter(label for line in lines for label in line.report.missing_labels)
    return Scorecard(lines=lines, by_owner=_groups(lines, lambda line: line.owner, by_share=True),
                     by_month=_groups(lines, lambda line: line.month, by_share=False),
                     missing=tuple(sorted(missing.items(), key=lambda kv: (-kv[1], kv[0]))))


def _groups(lines: tuple[DealLine, ...], name_of: Callable[[DealLine], str], *, by_share: bool) -> tuple[Group, ...]:
    totals: Counter[str] = Counter()
    complete: Counter[str] = Counter()
    for line in lines:
        totals[name_of(line)] += 1
        complete[name_of(line)] += line.report.complete
    groups = [Group(name=name, deals=totals[name], complete=complete[name]) for name in totals]
    if by_share:
        return tuple(sorted(groups, key=lambda g: (-g.share, -g.deals, g.name)))
    return tuple(sorted(groups, key=lambda g: g.name))


CSV_VIEWS = ("deals", "owners", "months", "fields")


def as_csv(card: Scorecard, view: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    if view == "deals":
        writer.writerow(["deal_id", "deal", "owner", "close_month", "complete", "score", "missing"])
        for line in card.lines:
            writer.writerow([line.deal.id, _cell(line.deal.name), _cell(line.owner), line.month,
                             "yes" if line.report.complete else "no", line.report.score,
                             _cell("; ".join(line.report.missing_labels))])
    elif view in ("owners", "months"):
        writer.writerow([view[:-1], "won_deals", "complete", "complete_share"])
        for group in card.by_owner if view == "owners" else card.by_month:
            writer.writerow([_cell(group.name), group.deals, group.complete, f"{group.share:.2f}"])
    else:
        writer.writerow(["handoff_field", "deals_missing_it"])
        for label, count in card.missing:
            writer.writerow([_cell(label), count])
    return out.getvalue()


def _cell(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula (CSV injection: =, +, -, @ first)."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
