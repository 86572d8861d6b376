"""Mappings: every key of the mapping file with the CRM field it names, a picker per key, the
verdict as one picks, and saving through a diff (catalog.py, mapping_check.py, edits.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from connector.errors import AfterCloseError
from connector.mapping import builtin_mapping
from jobs.cli.runtime import Runtime
from jobs.console.auth import Who
from jobs.console.catalog import MappingKey, field_catalog, mapping_keys
from jobs.console.edits import (
    Conflict,
    diff_lines,
    ensure_unchanged,
    fingerprint,
    read_text,
    unified_diff,
    write_recorded,
)
from jobs.console.mapping_check import CrmUnavailable, KeyProblem, MappingCheck, check_mapping, with_picks
from jobs.console.web import context_of, form_text, page, refusal, render

PICK = "crm:"
"""Form fields ``crm:<key>`` hold the CRM field picked for each key."""


@dataclass(frozen=True, kw_only=True)
class MappingFile:
    path: Path
    editable: bool
    """False for the built-in mapping (package data): copy it and name the copy in crm.mapping."""


def _file(runtime: Runtime) -> MappingFile:
    configured = runtime.settings.crm.mapping
    if configured is not None:
        return MappingFile(path=Path(configured), editable=True)
    return MappingFile(path=builtin_mapping(runtime.provider), editable=False)


@page()
def mappings_page(request: Request, who: Who, form: FormData) -> Response:
    ctx = context_of(request)
    loaded = ctx.loaded()
    if loaded.runtime is None:
        return render(request, who, "mappings.html", active="mappings", problem=loaded.problem, rows=[])
    runtime = loaded.runtime
    file = _file(runtime)
    text = read_text(file.path)
    catalog = field_catalog(runtime, file.path)
    keys = mapping_keys(runtime)
    current, unavailable = _current_check(runtime, file.path, text)
    rows = [{"key": key, "choices": catalog.choices(key),
             "problems": current.about(key.key) if current else None} for key in keys]
    return render(request, who, "mappings.html", active="mappings", problem=None, rows=rows, file=file,
                  base=fingerprint(text), unavailable=unavailable, saved=request.query_params.get("saved"),
                  provider=runtime.provider.value)


def _current_check(runtime: Runtime, path: Path, text: str) -> tuple[MappingCheck | None, str | None]:
    try:
        return check_mapping(runtime, path, text), None
    except CrmUnavailable as exc:
        return None, str(exc)


@page()
def verdict(request: Request, who: Who, form: FormData) -> Response:
    runtime = context_of(request).runtime()
    file = _file(runtime)
    key = _key(runtime, form_text(form, "key"))
    if key is None:
        return Response("unknown mapping key", status_code=400)
    picked = form_text(form, PICK + key.key).strip()
    try:
        found = field_catalog(runtime, file.path).verdict(key, picked) if picked else None
    except CrmUnavailable as exc:
        return render(request, who, "_verdict.html", verdict=None, unavailable=str(exc), picked=picked)
    return render(request, who, "_verdict.html", verdict=found, unavailable=None, picked=picked)


def _key(runtime: Runtime, name: str) -> MappingKey | None:
    return next((k for k in mapping_keys(runtime) if k.key == name), None)


def _picks(runtime: Runtime, form: FormData) -> dict[str, str]:
    """The keys whose picked CRM field differs from the file's."""
    picks = {}
    for key in mapping_keys(runtime):
        picked = form_text(form, PICK + key.key, key.crm).strip()
        if picked and picked != key.crm:
            picks[key.key] = picked
    return picks


def _summary(runtime: Runtime, picks: dict[str, str]) -> str:
    was = {k.key: k.crm for k in mapping_keys(runtime)}
    return "; ".join(f"{key}: {was[key]} -> {crm}" for key, crm in sorted(picks.items()))


@page(change=True)
def review(request: Request, who: Who, form: FormData) -> Response:
    """The diff of the picks, and every problem `check` finds with them; Save only when there is none."""
    prepared = _prepare(request, who, form)
    if isinstance(prepared, Response):
        return prepared
    current = read_text(prepared.file.path)
    return render(request, who, "mapping_review.html", active="mappings", file=prepared.file, picks=prepared.picks,
                  base=prepared.base, diff=diff_lines(unified_diff(current, prepared.new_text, prepared.file.path)),
                  problems=prepared.blocking, remaining=prepared.remaining,
                  summary=_summary(prepared.runtime, prepared.picks),
                  pick_prefix=PICK)


@page(change=True)
def save(request: Request, who: Who, form: FormData) -> Response:
    prepared = _prepare(request, who, form)
    if isinstance(prepared, Response):
        return prepared
    if prepared.blocking:  # the review showed them; a crafted or stale form still never writes
        return refusal(request, who, 422, "Not saved: with this change `afterclose check` reports: "
                       + "; ".join(str(p) for p in prepared.blocking))
    try:
        change = write_recorded(context_of(request), who, kind="mapping", path=prepared.file.path, base=prepared.base,
                                text=prepared.new_text, summary=_summary(prepared.runtime, prepared.picks))
    except Conflict as exc:
        return refusal(request, who, 409, str(exc))
    return RedirectResponse(f"/mappings?saved={change}", status_code=303)


@dataclass(frozen=True, kw_only=True)
class _Change:
    runtime: Runtime
    file: MappingFile
    picks: dict[str, str]
    base: str
    new_text: str
    checked: MappingCheck
    before: MappingCheck

    @property
    def blocking(self) -> list[KeyProblem]:
        """What the change breaks: a problem the file on disk does not have, or any problem of a
        key it changes. Problems the file already has elsewhere do not stop a change that fixes
        one key at a time; they are shown, not blamed on it."""
        known = {(p.key, p.problem) for p in self.before.problems}
        return [p for p in self.checked.problems if (p.key, p.problem) not in known or p.key in self.picks]

    @property
    def remaining(self) -> list[KeyProblem]:
        return [p for p in self.checked.problems if p not in self.blocking]


def _prepare(request: Request, who: Who, form: FormData) -> _Change | Response:
    """The change the form asks for, checked; or the refusal to send."""
    runtime = context_of(request).runtime()
    file = _file(runtime)
    if not file.editable:
        return refusal(request, who, 409, f"This config uses the built-in mapping ({file.path}), which the console "
                                          "does not change: copy it, set [crm] mapping to the copy, and edit that.")
    picks = _picks(runtime, form)
    base = form_text(form, "base")
    if not picks:
        return refusal(request, who, 400, "Nothing to save: no key points at another CRM field.")
    try:
        current = ensure_unchanged(file.path, base)
        new_text = with_picks(current, picks)
        checked = check_mapping(runtime, file.path, new_text)
        before = check_mapping(runtime, file.path, current)
    except Conflict as exc:
        return refusal(request, who, 409, str(exc))
    except CrmUnavailable as exc:
        return refusal(request, who, 503, f"Not saved: the live CRM could not be asked whether the change fits "
                                          f"({exc}). Nothing was written; try again when it answers.")
    except AfterCloseError as exc:
        return refusal(request, who, 422, f"Not saved: {exc}")
    return _Change(runtime=runtime, file=file, picks=picks, base=base, new_text=new_text, checked=checked,
                   before=before)


routes = [Route("/mappings", mappings_page, methods=["GET"]),
          Route("/mappings/verdict", verdict, methods=["POST"]),
          Route("/mappings/review", review, methods=["POST"]),
          Route("/mappings/save", save, methods=["POST"])]
