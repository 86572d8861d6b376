"""Load the CRM-neutral demo data set (``connector/sandbox/demo.py``) as Salesforce records.

Stage "won" -> Closed Won, "open" -> Prospecting, "lost" -> Closed Lost (IsWon/IsClosed follow
from the stage). Canonical fields land in the org's default places: first_touch_channel ->
LeadSource, decision_criteria -> Decision_Criteria__c, customer_goal -> Customer_Goal__c,
success_criteria -> Success_Criteria__c, renewal_date -> Renewal_Date__c, deal_type -> Type. Contact roles become
OpportunityContactRole rows; ``modified_at`` becomes LastModifiedDate and SystemModstamp.

What a real org could not hold is adjusted the way Salesforce would have forced it at entry:
text longer than the field is cut to the field's length, and a renewal "date" that is not a
date is left empty (a date field cannot store text).
"""

from __future__ import annotations

import datetime as dt

from ..demo import DemoDataset, DemoDeal
from .store import Store

STAGE_NAMES = {"won": "Closed Won", "open": "Prospecting", "lost": "Closed Lost"}
CANONICAL_FIELDS = {
    "first_touch_channel": "LeadSource",
    "decision_criteria": "Decision_Criteria__c",
    "customer_goal": "Customer_Goal__c",
    "success_criteria": "Success_Criteria__c",
    "renewal_date": "Renewal_Date__c",
}
CREATED_BEFORE_MODIFIED = dt.timedelta(days=45)
DEAL_TYPES = {"new": "New Customer", "expansion": "Existing Customer - Upgrade", "renewal": "Renewal"}
"""Demo deal types as Opportunity.Type holds them; "Renewal" is a value the demo org added."""


def _fit(store: Store, obj: str, values: dict) -> dict:
    out = {}
    for name, value in values.items():
        fd = store.catalog[obj].fields[name]
        if isinstance(value, str):
            value = value[: fd.length] if fd.length else value
            value = value or None  # Salesforce stores "" as null
        if fd.type == "date" and not isinstance(value, dt.date):
            value = None
        out[name] = value
    return out


def load_dataset(store: Store, dataset: DemoDataset) -> dict[str, dict[int, str]]:
    """Insert everything; returns ``{"User": {key: id}, "Account": ..., "Contact": ..., "Opportunity": ...}``."""
    ids: dict[str, dict[int, str]] = {"User": {}, "Account": {}, "Contact": {}, "Opportunity": {}}
    with store.lock:
        for owner in dataset.owners:
            ids["User"][owner.key] = store.insert_raw("User", _fit(store, "User", {
                "Username": owner.email, "FirstName": owner.first_name, "LastName": owner.last_name,
                "Email": owner.email, "IsActive": owner.active}))
        active = [ids["User"][o.key] for o in dataset.owners if o.active] or [store.current_user_id]
        for company in dataset.companies:
            ids["Account"][company.key] = store.insert_raw("Account", _fit(store, "Account", {
                "Name": company.name, "Website": company.domain, "OwnerId": active[company.key % len(active)]}))
        for contact in dataset.contacts:
            ids["Contact"][contact.key] = store.insert_raw("Contact", _fit(store, "Contact", {
                "FirstName": contact.first_name, "LastName": contact.last_name, "Email": contact.email,
                "AccountId": ids["Account"][contact.company], "OwnerId": active[contact.key % len(active)]}))
        for deal in dataset.deals:
            ids["Opportunity"][deal.key] = _load_deal(store, deal, ids)
    return ids


def _load_deal(store: Store, deal: DemoDeal, ids: dict) -> str:
    values = {
        "Name": deal.name, "StageName": STAGE_NAMES[deal.stage], "CloseDate": deal.close_date,
        "Amount": deal.amount, "OwnerId": ids["User"][deal.owner],
        "AccountId": ids["Account"][deal.company] if deal.company is not None else None,
        "LastModifiedDate": deal.modified_at, "SystemModstamp": deal.modified_at,
        "CreatedDate": deal.modified_at - CREATED_BEFORE_MODIFIED,
        "Type": DEAL_TYPES.get(deal.deal_type or ""),
    }
    for canonical, name in CANONICAL_FIELDS.items():
        if canonical in deal.fields:
            values[name] = deal.fields[canonical]
    opportunity_id = store.insert_raw("Opportunity", _fit(store, "Opportunity", values))
    for role in deal.contacts:
        store.insert_raw("OpportunityContactRole", {
            "OpportunityId": opportunity_id, "ContactId": ids["Contact"][role.contact],
            "Role": role.role, "IsPrimary": role.primary,
            "CreatedDate": values["CreatedDate"], "LastModifiedDate": deal.modified_at,
            "SystemModstamp": deal.modified_at})
    return opportunity_id
