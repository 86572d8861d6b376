"""A mapping file's text, checked exactly as `afterclose check` checks the file on disk: compiled
by the mapping loader, read with the config's playbooks (``runtime_for``, what every command does
first), then compared with the live CRM by the adapter's own ``check_schema``. Nothing here
judges a field itself; the console only edits the text and shows the verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import tomlkit
from tomlkit.exceptions import TOMLKitError

from connector.errors import AfterCloseError, ConfigError
from connector.mapping import FieldMap, parse_mapping
from jobs import logs
from jobs.cli.run import JOBS
from jobs.cli.runtime import Runtime, runtime_for
from jobs.schema_fit import fit

TASK_KEY = "task.key_field"
"""The form's name for the task key field (every other key is ``fields.<canonical>``)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class KeyProblem:
    key: str
    """``fields.<canonical>``, ``task.key_field``, or ``(file)`` for what concerns the whole file."""
    crm_field: str
    problem: str

    def __str__(self) -> str:
        # `afterclose check` words each problem this way (jobs/cli/check.py).
        return f"mapping key {self.key} -> CRM field {self.crm_field}: {self.problem}"


@dataclass(frozen=True, kw_only=True, slots=True)
class MappingCheck:
    problems: tuple[KeyProblem, ...]
    """What `check` refuses for the jobs that run (jobs/schema_fit.py)."""
    fieldmap: FieldMap | None
    notes: tuple[KeyProblem, ...] = ()
    """What `check` passes with a note: compatible pairs that differ, optional targets a run skips."""

    def about(self, key: str) -> list[KeyProblem]:
        return [p for p in self.problems if p.key in (key, "(file)")]

    def notes_about(self, key: str) -> list[KeyProblem]:
        return [p for p in self.notes if p.key == key]


class CrmUnavailable(AfterCloseError):
    """The live CRM could not be asked; the check is incomplete, so nothing may be written."""


def with_picks(text: str, picks: dict[str, str]) -> str:
    """The mapping text with these keys pointing at other CRM fields, comments and order kept."""
    doc = tomlkit.parse(text)
    for key, crm_name in picks.items():
        if key == TASK_KEY:
            doc["task"]["key_field"] = crm_name
        else:
            doc["fields"][key.removeprefix("fields.")]["crm"] = crm_name
    return tomlkit.dumps(doc)


def check_mapping(runtime: Runtime, path: Path, text: str) -> MappingCheck:
    """Every problem `check` would report for ``text`` as the mapping file at ``path``.
    ``CrmUnavailable`` when the CRM cannot be asked."""
    try:
        candidate = runtime_for(runtime.settings, parse_mapping(text, source=str(path)))
    except ConfigError as exc:
        return MappingCheck(problems=tuple(_compile_problems(exc, str(path))), fieldmap=None)
    try:
        with candidate.crm() as session:
            found = session.adapter.check_schema()
    except AfterCloseError as exc:
        raise CrmUnavailable(logs.redact(str(exc))) from None
    fits = [fit(found, candidate.fieldmap, job) for job in candidate.configured_jobs(JOBS)]
    blocking = dict.fromkeys(p for job_fit in fits for p in job_fit.blocking)
    problems = tuple(KeyProblem(key=_form_key(p.mapping_key), crm_field=p.crm_field, problem=p.problem)
                     for p in blocking)
    notes = dict.fromkeys([*(KeyProblem(key=_form_key(p.mapping_key), crm_field=p.crm_field, problem=p.problem)
                             for job_fit in fits for p in job_fit.notes),
                           *(KeyProblem(key=f"fields.{s.key}", crm_field=s.crm_field,
                                        problem=f"optional target: the {job_fit.job} job skips it ({s.why})")
                             for job_fit in fits for s in job_fit.skipped)])
    return MappingCheck(problems=problems, fieldmap=candidate.fieldmap, notes=tuple(notes))


def _form_key(mapping_key: str) -> str:
    """The adapters name keys ``decision_criteria``, ``fields.decision_criteria`` or ``task_key_field``."""
    if mapping_key in ("task_key_field", TASK_KEY):
        return TASK_KEY
    return mapping_key if "." in mapping_key else f"fields.{mapping_key}"


def _compile_problems(exc: ConfigError, source: str) -> list[KeyProblem]:
    message = str(exc).removeprefix(f"{exc.source}: " if exc.source else "")
    key = exc.key or "(file)"
    message = message.removeprefix(f"{key}: ")
    if not key.startswith(("fields.", "task.")):
        key = "(file)"
    else:
        key = ".".join(key.split(".")[:2])
    return [KeyProblem(key=key, crm_field=source, problem=message)]


def parse_error(text: str) -> str | None:
    """Whether tomlkit can edit this file at all (a file the loader reads always can)."""
    try:
        tomlkit.parse(text)
    except TOMLKitError as exc:
        return str(exc)
    return None
