"""Does the mapping fit the live CRM *for this job*? Pure: the adapter's ``check_schema`` answers
per field; this decides what each job may do with the answer.

- A job checks only what it uses (``fields_used``): a field only the NPS job uses never blocks
  the sync job, and the other way round.
- A problem on an optional write-back target (``optional = true``) does not block: the job
  writes the others, and reports the skipped target and why in its summary and in `status`.
- A compatible pair that differs (a note: an enum written to a text field) passes, said in one
  line; the job's mapping carries how to write it (``FieldSpec.write_as``).

`check`, `plan`, `run`, the scheduler and the console's mapping check all come through here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from connector.mapping import FieldMap, FieldType
from connector.mapping.templates import placeholders_in
from connector.port import SchemaProblem

SYNC = "sync"
NPS = "nps"

NPS_FIELDS = frozenset({
    *(name for base in ("nps_score", "nps_category", "nps_date", "nps_comment", "referral_status",
                        "referral_status_date") for name in (base, f"company_{base}")),
})
"""The canonical names the NPS job reads and writes (jobs/core/nps/__init__.py), on deals and companies."""
REFERRER_FIELD = "referred_by"
"""The deal field naming who referred a won deal (jobs/core/nps/referral.py ``referrer_field``)."""
NPS_TEMPLATES = frozenset({"referral_ask", "detractor_followup"})
"""The task templates only the NPS job renders (jobs/core/nps/tasks.py ``TEMPLATE_IDS``)."""


def fields_used(fieldmap: FieldMap, job: str) -> frozenset[str]:
    """The canonical fields ``job`` reads or writes. The NPS job uses the NPS and referral fields.
    The sync job reads every other deal field (handoff inputs, playbook conditions, task texts)
    and writes the handoff status back; an NPS field too, when one of its task templates or
    handoff rules names it. A field of another record neither claims is checked for both."""
    names = set(fieldmap.fields)
    nps = {name for name in names if name in NPS_FIELDS or name == REFERRER_FIELD}
    if job == NPS:
        return frozenset(nps)
    named_by_sync = _named_by_sync(fieldmap)
    return frozenset(name for name in names if name not in nps or name in named_by_sync)


def _named_by_sync(fieldmap: FieldMap) -> set[str]:
    """Fields the sync job's own task templates or the handoff rules name."""
    texts = [part for template_id, template in fieldmap.templates.items() if template_id not in NPS_TEMPLATES
             for part in (template.subject, template.body)]
    named = {field for text in texts for field in placeholders_in(text)}
    return named | {rule.field for rule in fieldmap.handoff_rules if rule.field}


def canonical_of(problem: SchemaProblem) -> str:
    """Adapters name a field ``decision_criteria`` or ``fields.decision_criteria``."""
    return problem.mapping_key.removeprefix("fields.")


@dataclass(frozen=True, kw_only=True, slots=True)
class Skipped:
    """An optional write-back target the job leaves out this run, and why."""

    key: str
    crm_field: str
    why: str

    def __str__(self) -> str:
        return f"fields.{self.key} -> {self.crm_field}: {self.why}"


@dataclass(frozen=True, kw_only=True, slots=True)
class JobFit:
    job: str
    blocking: tuple[SchemaProblem, ...]
    """Problems on what the job needs: it must not run (exit 2, nothing written)."""
    skipped: tuple[Skipped, ...]
    """Optional targets of this job that do not fit: written around, and reported."""
    notes: tuple[SchemaProblem, ...]
    """Compatible pairs that differ, one line each."""
    fieldmap: FieldMap
    """The mapping as the job uses it: unfit optional targets left out, ``write_as`` set."""

    @property
    def ready(self) -> bool:
        return not self.blocking


SKIPPED_COUNT = "skipped_optional_targets"
"""The run's count of optional targets left out (with the run's other counts)."""


def skipped_note(skipped: Sequence[Skipped]) -> str | None:
    """One line for the run's summary, kept with the run (its note) and shown by `status`."""
    if not skipped:
        return None
    return "skipped optional target(s): " + "; ".join(str(s) for s in skipped)


def skipped_counts(skipped: Sequence[Skipped]) -> dict[str, int]:
    return {SKIPPED_COUNT: len(skipped)} if skipped else {}


def fit(problems: Iterable[SchemaProblem], fieldmap: FieldMap, job: str) -> JobFit:
    used = fields_used(fieldmap, job)
    blocking: list[SchemaProblem] = []
    notes: list[SchemaProblem] = []
    skipped: dict[str, Skipped] = {}
    unfit_optional: set[str] = set()
    write_as: dict[str, FieldType] = {}
    for problem in problems:
        name = canonical_of(problem)
        spec = fieldmap.fields.get(name)
        if problem.note:
            if spec is not None and problem.write_as is not None:
                write_as[name] = problem.write_as
            if spec is None or name in used:
                notes.append(problem)
            continue
        if spec is not None and spec.optional:
            unfit_optional.add(name)
            if name in used and name not in skipped:
                skipped[name] = Skipped(key=name, crm_field=problem.crm_field, why=problem.problem)
            continue
        if spec is None or name in used:
            blocking.append(problem)
        else:
            unfit_optional.add(name)  # not this job's: left out of its mapping, so never read or written
    return JobFit(job=job, blocking=tuple(blocking), skipped=tuple(skipped.values()), notes=tuple(notes),
                  fieldmap=fieldmap.fitted(unfit_optional, write_as))


def fit_all(problems: Sequence[SchemaProblem], fieldmap: FieldMap, jobs: Iterable[str]) -> list[JobFit]:
    return [fit(problems, fieldmap, job) for job in jobs]
