"""Handoff scorecard: completeness by owner and by month, the handoff fields missing most often,
as charts (svg.py), and as CSV."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from jobs.console.auth import Who
from jobs.console.crm_reads import Unavailable
from jobs.console.scorecard import CSV_VIEWS, Group, as_csv, scorecard
from jobs.console.svg import BarChart, bars
from jobs.console.web import context_of, page, reads_of, refusal, render


def _chart(groups: tuple[Group, ...]) -> BarChart:
    return bars([(g.name, g.share, f"{g.complete}/{g.deals} complete ({g.share:.0%})") for g in groups])


@page()
def scorecard_page(request: Request, who: Who, form: FormData) -> Response:
    won = reads_of(request).won_deals()
    if isinstance(won, Unavailable):
        return render(request, who, "scorecard.html", active="scorecard", unavailable=won.reason, card=None)
    card = scorecard(won.deals, context_of(request).runtime().fieldmap)
    total = len(card.lines) or 1
    missing = bars([(label, count / total, f"{count} of {len(card.lines)} deals") for label, count in card.missing],
                   label_width=260)
    return render(request, who, "scorecard.html", active="scorecard", unavailable=None, card=card, won=won,
                  owners=_chart(card.by_owner), months=_chart(card.by_month), missing=missing, views=CSV_VIEWS)


@page()
def scorecard_csv(request: Request, who: Who, form: FormData) -> Response:
    view = request.query_params.get("view", "deals")
    if view not in CSV_VIEWS:
        return refusal(request, who, 400, f"No CSV view {view!r}; one of: {', '.join(CSV_VIEWS)}")
    won = reads_of(request).won_deals()
    if isinstance(won, Unavailable):
        return refusal(request, who, 503, f"The CRM cannot be asked right now: {won.reason}")
    body = as_csv(scorecard(won.deals, context_of(request).runtime().fieldmap), view)
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="handoff-{view}.csv"'})


@page()
def refresh(request: Request, who: Who, form: FormData) -> Response:
    reads_of(request).won_deals(fresh=True)
    return RedirectResponse("/scorecard", status_code=303)


routes = [Route("/scorecard", scorecard_page, methods=["GET"]), Route("/scorecard.csv", scorecard_csv, methods=["GET"]),
          Route("/scorecard/refresh", refresh, methods=["POST"])]
