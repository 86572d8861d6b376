"""The sObjects the sandbox serves, declared once: describe, validation and SOQL all read this.

Field names, types and lengths follow the Salesforce field reference
[DOC: https://developer.salesforce.com/docs/atlas.en-us.228.0.sfFieldRef.meta/sfFieldRef/salesforce_field_reference_Opportunity.htm]
[DOC: https://developer.salesforce.com/docs/atlas.en-us.248.0.api.meta/api/sforce_api_objects_task.htm]
and ``crm-api-facts.md`` §4. Custom fields (``__c``) are the ones an AfterClose org is set up with.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .ids import KEY_PREFIXES
from .schema_setup import setup_objects

# Long text areas (length > 255) can be selected but not filtered or sorted (SOQL reference,
# "ORDER BY": long text area is unsupported; "WHERE": "can not be filtered in a query call").
LONG_TEXT = 32768


@dataclass(frozen=True, kw_only=True)
class FieldDef:
    name: str
    type: str
    label: str = ""
    length: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    custom: bool = False
    external_id: bool = False
    unique: bool = False
    case_sensitive: bool = False
    precision: int = 0
    scale: int = 0
    picklist: tuple[str, ...] = ()
    default: object = None
    restricted: bool = False
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    calculated: bool = False

    @property
    def filterable(self) -> bool:
        return not (self.type == "textarea" and self.length > 255) and self.type != "complexvalue"

    @property
    def sortable(self) -> bool:
        return self.filterable

    @property
    def required_on_create(self) -> bool:
        """Salesforce's "required" is describe's nillable=false, createable, and no default."""
        return (not self.nillable and self.createable and self.default is None
                and self.type not in ("boolean",))


@dataclass(frozen=True, kw_only=True)
class ChildRelationship:
    child_sobject: str
    field: str
    relationship_name: str
    cascade_delete: bool = False


@dataclass(kw_only=True)
class ObjectDef:
    name: str
    label: str
    label_plural: str
    fields: dict[str, FieldDef]
    children: list[ChildRelationship] = field(default_factory=list)
    createable: bool = True
    updateable: bool = True
    deletable: bool = True
    custom: bool = False

    def __post_init__(self) -> None:
        self._by_lower = {name.lower(): f for name, f in self.fields.items()}
        self._rel_by_lower = {f.relationship_name.lower(): f for f in self.fields.values()
                              if f.relationship_name}

    @property
    def key_prefix(self) -> str:
        return KEY_PREFIXES[self.name]

    def field(self, name: str) -> FieldDef | None:
        """Case-insensitive, like the API (SOQL and JSON field names ignore case)."""
        return self._by_lower.get(name.lower())

    def relationship(self, name: str) -> FieldDef | None:
        return self._rel_by_lower.get(name.lower())

    def child(self, relationship_name: str) -> ChildRelationship | None:
        lowered = relationship_name.lower()
        return next((c for c in self.children if c.relationship_name.lower() == lowered), None)

    def with_field(self, fd: FieldDef) -> ObjectDef:
        """A copy with ``fd`` added before the system fields (as Setup adds a custom field)."""
        names = list(self.fields)
        at = names.index("CreatedDate") if "CreatedDate" in names else len(names)
        ordered = [self.fields[n] for n in names[:at]] + [fd] + [self.fields[n] for n in names[at:]]
        return dataclasses.replace(self, fields={f.name: f for f in ordered})


@dataclass(frozen=True, kw_only=True)
class Stage:
    """One OpportunityStage row: IsWon/IsClosed come from here, never from the stage's name."""

    name: str
    probability: float
    is_closed: bool
    is_won: bool
    forecast: str
    sort_order: int


# The default sales process of a new org (Setup > Opportunity Stages).
STAGES = (
    Stage(name="Prospecting", probability=10, is_closed=False, is_won=False, forecast="Pipeline", sort_order=1),
    Stage(name="Qualification", probability=10, is_closed=False, is_won=False, forecast="Pipeline", sort_order=2),
    Stage(name="Needs Analysis", probability=20, is_closed=False, is_won=False, forecast="Pipeline", sort_order=3),
    Stage(name="Value Proposition", probability=50, is_closed=False, is_won=False, forecast="Pipeline", sort_order=4),
    Stage(name="Id. Decision Makers", probability=60, is_closed=False, is_won=False, forecast="Pipeline", sort_order=5),
    Stage(name="Perception Analysis", probability=70, is_closed=False, is_won=False, forecast="Pipeline", sort_order=6),
    Stage(name="Proposal/Price Quote", probability=75, is_closed=False, is_won=False, forecast="Pipeline",
          sort_order=7),
    Stage(name="Negotiation/Review", probability=90, is_closed=False, is_won=False, forecast="Pipeline", sort_order=8),
    Stage(name="Closed Won", probability=100, is_closed=True, is_won=True, forecast="Closed", sort_order=9),
    Stage(name="Closed Lost", probability=0, is_closed=True, is_won=False, forecast="Omitted", sort_order=10),
)
STAGE_BY_NAME = {s.name: s for s in STAGES}
TASK_STATUSES = ("Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred")
CLOSED_TASK_STATUSES = frozenset({"Completed"})
TASK_PRIORITIES = ("High", "Normal", "Low")
LEAD_SOURCES = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other",
                "Referral", "Partner", "Event", "Outbound", "Paid Search")
EVENT_TYPES = ("Call", "Email", "Meeting", "Other")
# Time zones, locales and languages are picklists of Salesforce's own keys; the sandbox accepts any.
DEFAULT_TIME_ZONE = "America/Los_Angeles"
DEFAULT_LOCALE = "en_US"
ACTIVITY_OBJECTS = ("Task", "Event")
"""Custom fields defined on ``Activity`` appear on both (facts §7)."""
CONTACT_ROLES = ("Business User", "Decision Maker", "Economic Buyer", "Economic Decision Maker",
                 "Evaluator", "Executive Sponsor", "Influencer", "Technical Buyer", "Other")


def _f(name: str, type_: str, **kw) -> FieldDef:
    kw.setdefault("label", name.removesuffix("__c").replace("_", " "))
    kw.setdefault("custom", name.endswith("__c"))
    if type_ in ("string", "email", "combobox") and "length" not in kw:
        kw["length"] = 255
    return FieldDef(name=name, type=type_, **kw)


def _ro(name: str, type_: str, **kw) -> FieldDef:
    return _f(name, type_, createable=False, updateable=False, **kw)


def _ref(name: str, to: tuple[str, ...], relationship: str, **kw) -> FieldDef:
    return _f(name, "reference", length=18, reference_to=to, relationship_name=relationship, **kw)


def _system_fields() -> list[FieldDef]:
    return [
        _ro("CreatedDate", "datetime", nillable=False),
        _ro("CreatedById", "reference", length=18, nillable=False, reference_to=("User",),
            relationship_name="CreatedBy"),
        _ro("LastModifiedDate", "datetime", nillable=False),
        _ro("LastModifiedById", "reference", length=18, nillable=False, reference_to=("User",),
            relationship_name="LastModifiedBy"),
        _ro("SystemModstamp", "datetime", nillable=False),
        _ro("IsDeleted", "boolean", nillable=False),
    ]


def _owner() -> FieldDef:
    # OwnerId defaults to the calling user on create (defaultedOnCreate), so it is not required.
    return _ref("OwnerId", ("User",), "Owner", nillable=False, default="$current_user")


def _nps_fields() -> list[FieldDef]:
    return [
        _f("NPS_Score__c", "double"),
        _f("NPS_Category__c", "picklist", picklist=("promoter", "passive", "detractor"), restricted=True),
        _f("NPS_Date__c", "date"),
        _f("Referral_Status__c", "picklist",
           picklist=("not_eligible", "eligible", "asked", "referred", "declined"), restricted=True),
    ]


def _object(name: str, label: str, plural: str, fields: list[FieldDef], **kw) -> ObjectDef:
    ordered = [_ro("Id", "id", length=18, nillable=False)] + fields + _system_fields()
    return ObjectDef(name=name, label=label, label_plural=plural,
                     fields={f.name: f for f in ordered}, **kw)


def build_catalog(*, afterclose_fields: bool = True) -> dict[str, ObjectDef]:
    """Every object by API name. ``afterclose_fields=False`` is an org before AfterClose's setup."""
    extra = _nps_fields() if afterclose_fields else []
    handoff = [
        _f("Handoff_Status__c", "picklist", picklist=("complete", "incomplete"), restricted=True),
        _f("Handoff_Missing__c", "textarea", length=LONG_TEXT),
    ] if afterclose_fields else []
    task_key = [_f("AfterClose_Key__c", "string", external_id=True, unique=True)] if afterclose_fields else []
    # The key of a renewal Opportunity AfterClose created (mappings/salesforce.toml renewal_deal_key).
    renewal_key = [_f("AfterClose_Renewal_Key__c", "string", external_id=True, unique=True)] \
        if afterclose_fields else []
    user = _object("User", "User", "Users", [
        _f("Username", "string", nillable=False, createable=False, updateable=False, length=80),
        _f("FirstName", "string", length=40),
        _f("LastName", "string", length=80, nillable=False),
        _ro("Name", "string", length=121, calculated=True),
        _f("Email", "email", length=128, nillable=False),
        _f("IsActive", "boolean", nillable=False),
        _f("TimeZoneSidKey", "picklist", length=40, nillable=False, default=DEFAULT_TIME_ZONE),
        _f("LocaleSidKey", "picklist", length=40, nillable=False, default=DEFAULT_LOCALE),
        _f("LanguageLocaleKey", "picklist", length=40, nillable=False, default="en_US"),
    ], createable=False, deletable=False)
    account = _object("Account", "Account", "Accounts", [
        _f("Name", "string", nillable=False),
        _owner(),
        _f("Website", "string"),
        # The standard account hierarchy (object reference, Account: ParentId, relationship "Parent",
        # child relationship "ChildAccounts"): a self-relationship, so SOQL can nest child subqueries
        # as deep as the documented limit of five levels.
        _ref("ParentId", ("Account",), "Parent", label="Parent Account ID"),
        *extra,
    ], children=[
        ChildRelationship(child_sobject="Account", field="ParentId", relationship_name="ChildAccounts"),
        ChildRelationship(child_sobject="Contact", field="AccountId", relationship_name="Contacts"),
        ChildRelationship(child_sobject="Opportunity", field="AccountId", relationship_name="Opportunities"),
        ChildRelationship(child_sobject="Task", field="WhatId", relationship_name="Tasks", cascade_delete=True),
        ChildRelationship(child_sobject="Event", field="WhatId", relationship_name="Events", cascade_delete=True),
    ])
    contact = _object("Contact", "Contact", "Contacts", [
        _f("FirstName", "string", length=40),
        _f("LastName", "string", length=80, nillable=False),
        _ro("Name", "string", length=121, calculated=True),
        _f("Email", "email", length=80),
        _ref("AccountId", ("Account",), "Account"),
        _owner(),
    ], children=[
        ChildRelationship(child_sobject="OpportunityContactRole", field="ContactId",
                          relationship_name="OpportunityContactRoles", cascade_delete=True),
        ChildRelationship(child_sobject="Task", field="WhoId", relationship_name="Tasks", cascade_delete=True),
        ChildRelationship(child_sobject="Event", field="WhoId", relationship_name="Events", cascade_delete=True),
    ])
    opportunity = _object("Opportunity", "Opportunity", "Opportunities", [
        _f("Name", "string", length=120, nillable=False),
        _ref("AccountId", ("Account",), "Account"),
        _owner(),
        _f("StageName", "picklist", picklist=tuple(s.name for s in STAGES), restricted=True, nillable=False),
        _f("CloseDate", "date", nillable=False),
        _f("Amount", "currency"),
        _f("Probability", "percent"),
        _ro("IsClosed", "boolean", nillable=False, calculated=True),
        _ro("IsWon", "boolean", nillable=False, calculated=True),
        _ro("ForecastCategory", "picklist", picklist=("Omitted", "Pipeline", "BestCase", "Forecast", "Closed"),
            calculated=True),
        # The standard values, and Renewal, which the demo org added as most orgs do (docs/playbooks.md).
        _f("Type", "picklist", picklist=("Existing Customer - Upgrade", "Existing Customer - Replacement",
                                          "Existing Customer - Downgrade", "New Customer", "Renewal")),
        _f("LeadSource", "picklist", picklist=LEAD_SOURCES),
        _f("Decision_Criteria__c", "textarea", length=LONG_TEXT),
        _f("Customer_Goal__c", "textarea", length=LONG_TEXT),
        _f("Success_Criteria__c", "textarea", length=LONG_TEXT),
        _f("Renewal_Date__c", "date"),
        *handoff,
        *renewal_key,
        *extra,
    ], children=[
        ChildRelationship(child_sobject="OpportunityContactRole", field="OpportunityId",
                          relationship_name="OpportunityContactRoles", cascade_delete=True),
        ChildRelationship(child_sobject="Task", field="WhatId", relationship_name="Tasks", cascade_delete=True),
        ChildRelationship(child_sobject="Event", field="WhatId", relationship_name="Events", cascade_delete=True),
    ])
    contact_role = _object("OpportunityContactRole", "Contact Role", "Contact Roles", [
        _ref("OpportunityId", ("Opportunity",), "Opportunity", nillable=False, updateable=False),
        _ref("ContactId", ("Contact",), "Contact", nillable=False),
        _f("Role", "picklist", picklist=CONTACT_ROLES, restricted=True),
        _f("IsPrimary", "boolean", nillable=False),
    ])
    task = _object("Task", "Task", "Tasks", [
        # Subject is nillable in the field reference; the sandbox takes the stricter reading
        # (REQUIRED_FIELD_MISSING, the example error in the collections doc, facts §4).
        _f("Subject", "combobox", nillable=False, picklist=("Call", "Send Letter", "Send Quote", "Other")),
        _f("Description", "textarea", length=32000),
        _f("ActivityDate", "date"),
        _f("Status", "picklist", picklist=TASK_STATUSES, restricted=True, nillable=False, default="Not Started"),
        _f("Priority", "picklist", picklist=TASK_PRIORITIES, restricted=True, nillable=False, default="Normal"),
        _owner(),
        _ref("WhatId", ("Opportunity", "Account"), "What"),
        _ref("WhoId", ("Contact",), "Who"),
        _f("Type", "picklist", picklist=("Call", "Email", "Meeting", "Other")),
        _ro("IsClosed", "boolean", nillable=False, calculated=True),
        _ro("AccountId", "reference", length=18, reference_to=("Account",), relationship_name="Account",
            calculated=True),
        *task_key,
    ])
    event = _object("Event", "Event", "Events", [
        # StartDateTime/EndDateTime stand for "a start and a duration or an end", which an event
        # needs (the sandbox takes the stricter reading: both required).
        _f("Subject", "combobox", picklist=("Call", "Email", "Meeting", "Send Letter/Quote", "Other")),
        _f("Description", "textarea", length=32000),
        _f("StartDateTime", "datetime", nillable=False),
        _f("EndDateTime", "datetime", nillable=False),
        _f("IsAllDayEvent", "boolean", nillable=False),
        _f("Location", "string"),
        _owner(),
        _ref("WhatId", ("Opportunity", "Account"), "What"),
        _ref("WhoId", ("Contact",), "Who"),
        _f("Type", "picklist", picklist=EVENT_TYPES),
        _ro("AccountId", "reference", length=18, reference_to=("Account",), relationship_name="Account",
            calculated=True),
        *task_key,
    ])
    stage = _object("OpportunityStage", "Opportunity Stage", "Opportunity Stages", [
        _ro("MasterLabel", "string"), _ro("ApiName", "string"),
        _ro("IsActive", "boolean"), _ro("IsClosed", "boolean"), _ro("IsWon", "boolean"),
        _ro("DefaultProbability", "percent"), _ro("ForecastCategoryName", "string"),
        _ro("SortOrder", "double"),
    ], createable=False, updateable=False, deletable=False)
    setup = setup_objects(_object, _f, _ref, ChildRelationship)
    return {o.name: o for o in (user, account, contact, opportunity, contact_role, task, event, stage, *setup)}


def find_object(catalog: dict[str, ObjectDef], name: str) -> ObjectDef | None:
    lowered = name.lower()
    return next((o for n, o in catalog.items() if n.lower() == lowered), None)
