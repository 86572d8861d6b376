"""Preview: find a deal by name and see what the next run would do to it, from `afterclose plan`'s
own dry run (crm_reads.py): tasks to create, reschedule or close, fields to write, the playbook
chosen and why. No write call is made."""

from __future__ import annotations

from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from connector.actions import Action, CloseTask, CreateDeal, CreateTask, UpdateRecord, UpdateTask
from jobs.console.auth import Who
from jobs.console.crm_reads import DryRun, Unavailable
from jobs.console.web import context_of, page, reads_of, render
from jobs.core import handoff

SHOWN = 20


@page()
def preview_page(request: Request, who: Who, form: FormData) -> Response:
    query = request.query_params.get("q", "").strip()
    chosen = request.query_params.get("deal")
    dry = reads_of(request).dry_run()
    if isinstance(dry, Unavailable):
        return render(request, who, "preview.html", active="preview", query=query, unavailable=dry.reason,
                      dry=None, matches=[], deal=None)
    matches = sorted((d for d in dry.deals.values() if query and query.casefold() in d.name.casefold()),
                     key=lambda d: d.name.casefold())
    if chosen is not None:
        chosen = context_of(request).runtime().record_id(chosen)  # a Salesforce id typed with 15 characters
    elif query and (typed := dry.deals.get(context_of(request).runtime().record_id(query))) is not None:
        chosen = typed.id  # the deal's id typed into the search box
    elif len(matches) == 1:
        chosen = matches[0].id
    return render(request, who, "preview.html", active="preview", query=query, unavailable=None, dry=dry,
                  matches=matches[:SHOWN], more=max(0, len(matches) - SHOWN),
                  deal=_deal_view(request, dry, chosen) if chosen else None)


def _deal_view(request: Request, dry: DryRun, deal_id: str) -> dict[str, object] | None:
    deal = dry.deals.get(deal_id)
    if deal is None:
        return None
    runtime = context_of(request).runtime()
    actions = [a for a in dry.report.plan_actions if a.deal_id == deal_id]
    return {"deal": deal, "actions": [_action(a, a.key in dry.report.applied_later) for a in actions],
            "explained": dry.report.explained.get(deal_id), "handoff": handoff.check(deal, runtime.fieldmap),
            "labels": {c: runtime.fieldmap.label(c) for c in runtime.fieldmap.fields}}


def _action(action: Action, later: bool) -> dict[str, object]:
    view: dict[str, object] = {"kind": action.kind.value, "words": action.kind.value.replace("_", " "),
                               "reason": action.reason, "later": later, "key": getattr(action, "key", "")}
    if isinstance(action, CreateTask | UpdateTask):
        view |= {"what": action.spec.subject, "due": action.spec.due_at, "priority": action.spec.priority.value,
                 "type": action.spec.type.value}
    if isinstance(action, UpdateTask):
        view["changes"] = ", ".join(action.changes)
    if isinstance(action, CloseTask):
        view["what"] = f"task {action.crm_id}"
    if isinstance(action, UpdateRecord):
        view["what"] = f"{action.update.kind.value} {action.update.record_id}"
        view["values"] = dict(action.update.values)
    if isinstance(action, CreateDeal):
        view["what"] = f"{action.spec.name} (stage {action.spec.stage}, closing {action.spec.close_date})"
    return view


@page()
def refresh(request: Request, who: Who, form: FormData) -> Response:
    reads_of(request).dry_run(fresh=True)
    query = form.get("q")
    return RedirectResponse(f"/preview?q={quote(query)}" if isinstance(query, str) and query else "/preview", 303)


routes = [Route("/preview", preview_page, methods=["GET"]), Route("/preview/refresh", refresh, methods=["POST"])]
