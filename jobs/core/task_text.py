"""The values a task template is filled with: one place for every kind of task (touch points,
the handoff task, NPS follow-ups), after the one placeholder table in
connector/mapping/templates.py. Pure."""

from __future__ import annotations

from collections.abc import Mapping

from connector.mapping import TaskTemplate, format_stakeholders, render_template
from connector.model import Deal


def deal_values(deal: Deal | None, *, company_name: str | None = None,
                renewal_date: str | None = None) -> dict[str, str | None]:
    """The placeholders that come from the deal: its mapped fields by canonical name, then its
    name, id, company, owner, close date, amount and stakeholders. ``company_name`` and
    ``renewal_date`` override the deal's own (the NPS account's name, the cycle's renewal date)."""
    if deal is None:
        return {"company_name": company_name, "renewal_date": renewal_date}
    values: dict[str, str | None] = dict(deal.fields)
    values.update(
        deal_name=deal.name,
        deal_id=deal.id,
        company_name=company_name or (deal.company.name if deal.company else None),
        owner_name=(deal.owner.name or deal.owner.email) if deal.owner else None,
        close_date=deal.close_date.isoformat() if deal.close_date else None,
        renewal_date=renewal_date or deal.value("renewal_date"),
        amount=deal.amount,
        stakeholders=format_stakeholders(deal.contacts),
    )
    return values


def render_task(template: TaskTemplate, values: Mapping[str, str | None]) -> tuple[str, str]:
    """(subject, body): a missing value shows as the template's "not recorded" marker."""
    return render_template(template.subject, values).strip(), render_template(template.body, values)
