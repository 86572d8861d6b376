"""Changes: every change the console made to a mapping or playbook file, who made it, when, and
the diff (the state store keeps them)."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from jobs.console.auth import Who
from jobs.console.edits import diff_lines
from jobs.console.web import context_of, page, render


@page()
def changes_page(request: Request, who: Who, form: FormData) -> Response:
    changes = context_of(request).store.console_changes(100)
    return render(request, who, "changes.html", active="changes",
                  changes=[(change, diff_lines(change.diff)) for change in changes])


routes = [Route("/changes", changes_page, methods=["GET"])]
