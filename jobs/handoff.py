"""Handoff rules: does the team taking over know what it needs to? Pure; no I/O."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True, slots=True)
class Finding:
    """One missing or invalid piece of the handoff, said the way a rep understands it."""

    field: str
    """Canonical field name, or "stakeholders"."""
    label: str
    reason: str


@dataclass(frozen=True, kw_only=True, slots=True)
class HandoffReport:
    deal_id: str
    complete: bool
    findings: tuple[Finding, ...]
    score: int
    """0-100: the share of rules the deal passes."""

    @property
    def missing_labels(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.label for f in self.findings))
