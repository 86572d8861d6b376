"""Playbooks: each playbook's touch points on a timeline from the close to the renewal, with the
condition that picks its deals; one touch point or playbook at a time edited through a diff,
checked by the playbook loader (playbook_edit.py)."""

from __future__ import annotations

from pathlib import Path

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from jobs.cli.runtime import Runtime
from jobs.console.auth import Who
from jobs.console.edits import (
    Conflict,
    diff_lines,
    ensure_unchanged,
    fingerprint,
    read_text,
    unified_diff,
    write_recorded,
)
from jobs.console.playbook_edit import (
    PLAYBOOK_FLAGS,
    TOUCH_POINT_CHOICES,
    EditProblem,
    Item,
    check_playbooks,
    item_values,
    with_edit,
)
from jobs.console.svg import timeline
from jobs.console.web import context_of, form_text, page, refusal, render
from jobs.core.conditions import describe


def _file(runtime: Runtime) -> Path | None:
    configured = runtime.settings.playbook.file
    return Path(configured) if configured is not None else None


@page()
def playbooks_page(request: Request, who: Who, form: FormData) -> Response:
    loaded = context_of(request).loaded()
    if loaded.runtime is None:
        return render(request, who, "playbooks.html", active="playbooks", problem=loaded.problem)
    runtime = loaded.runtime
    path = _file(runtime)
    text = read_text(path) if path else ""
    segments = [{"playbook": s.playbook, "when": "every other deal" if s.is_default else describe(s.when),
                 "timeline": timeline(s.playbook)} for s in runtime.playbooks.set.segments]
    item = Item.parse(request.query_params.get("edit", ""))
    editing = item_values(text, item) if item and path else None
    library = [tp.id for tp in runtime.playbooks.set.library] or \
        sorted({tp.id for p in runtime.playbooks.set.playbooks for tp in p.touch_points})
    return render(request, who, "playbooks.html", active="playbooks", problem=None, segments=segments,
                  source=runtime.playbooks.source, path=path, base=fingerprint(text), item=item, editing=editing,
                  choices=TOUCH_POINT_CHOICES, flags=PLAYBOOK_FLAGS, library=_library(runtime, library),
                  notes=runtime.playbooks.notes, saved=request.query_params.get("saved"))


def _library(runtime: Runtime, ids: list[str]) -> list[str]:
    """Every touch point id a playbook may use, in the order of the first day they fall on."""
    rules = {tp.id: tp for tp in runtime.playbooks.set.library}
    for playbook in runtime.playbooks.set.playbooks:
        rules.update({tp.id: tp for tp in playbook.touch_points})
    return sorted(rules, key=lambda i: (rules[i].anchor != "close", rules[i].offset_days, i))


def _prepare(request: Request, who: Who, form: FormData) -> tuple[Runtime, Path, Item, str, str, list[str]] | Response:
    runtime = context_of(request).runtime()
    path = _file(runtime)
    if path is None:
        return refusal(request, who, 409, "These playbooks are not in a playbook file the console can change: copy "
                                          f"{runtime.playbooks.source} and set [playbook] file to the copy.")
    item = Item.parse(form_text(form, "item"))
    if item is None:
        return refusal(request, who, 400, "Nothing to save: the form names no touch point or playbook.")
    base = form_text(form, "base")
    values = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    checked = {k for k, v in values.items() if v == "on"}
    try:
        current = ensure_unchanged(path, base)
        new_text = with_edit(current, item, values, checked)
    except Conflict as exc:
        return refusal(request, who, 409, str(exc))
    except EditProblem as exc:
        return refusal(request, who, 422, f"Not saved: {exc}")
    return runtime, path, item, base, new_text, check_playbooks(runtime, str(path), new_text)


@page(change=True)
def review(request: Request, who: Who, form: FormData) -> Response:
    prepared = _prepare(request, who, form)
    if isinstance(prepared, Response):
        return prepared
    _, path, item, base, new_text, problems = prepared
    fields = [(k, v) for k, v in form.multi_items() if isinstance(v, str) and k != "csrf_token"]
    return render(request, who, "playbook_review.html", active="playbooks", path=path, item=item, base=base,
                  diff=diff_lines(unified_diff(read_text(path), new_text, path)), problems=problems, fields=fields)


@page(change=True)
def save(request: Request, who: Who, form: FormData) -> Response:
    prepared = _prepare(request, who, form)
    if isinstance(prepared, Response):
        return prepared
    _, path, item, base, new_text, problems = prepared
    if problems:
        return refusal(request, who, 422, "Not saved: the playbook loader refuses the change: " + "; ".join(problems))
    try:
        change = write_recorded(context_of(request), who, kind="playbooks", path=path, base=base, text=new_text,
                                summary=f"{item.kind.replace('_', ' ')} {item.id} edited")
    except Conflict as exc:
        return refusal(request, who, 409, str(exc))
    return RedirectResponse(f"/playbooks?saved={change}", status_code=303)


routes = [Route("/playbooks", playbooks_page, methods=["GET"]),
          Route("/playbooks/review", review, methods=["POST"]),
          Route("/playbooks/save", save, methods=["POST"])]
