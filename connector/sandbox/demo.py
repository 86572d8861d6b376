"""A deterministic, CRM-neutral demo data set that both sandboxes load.

``demo_dataset(anchor)`` is the hand-made set a newcomer sees (``make demo``): ~50 deals in every
state that matters. ``scaled_dataset(n, anchor, seed)`` is the same mix at any size, for the
benchmark and the reliability suite. Everything is derived from the arguments only, so two runs
(or the two sandboxes) see identical data.

Values are in neutral form: canonical field names (see mappings/*.toml) and Python values.
Each sandbox stores them under its own CRM's default field names.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

UTC = dt.UTC

HANDOFF_FIELDS = ("first_touch_channel", "decision_criteria", "customer_goal", "success_criteria")
CHANNELS = ("Web", "Referral", "Partner", "Event", "Outbound", "Paid Search")
GOALS = (
    "Grow market share in the DACH region by 15% within a year",
    "Cut support cost per ticket by a third before the next budget round",
    "Improve their own customers' satisfaction (CSAT from 78 to 90)",
    "Replace three legacy tools with one platform by Q3",
)
CRITERIA = (
    "Total cost over three years, SSO, and an EU data centre",
    "Time to value under 30 days and a named CSM",
    "Integration with their ERP and audit logging",
    "Price per seat and a reference customer in retail",
)
SUCCESS = (
    "Weekly active users above 80% of seats by day 90",
    "First automated report delivered to the board in month two",
    "Ticket backlog halved within one quarter",
    "Renewal approved by the CFO without a discount",
)
ROLES = ("Decision Maker", "Economic Buyer", "Technical Buyer", "Evaluator", "Business User")


@dataclass(frozen=True, kw_only=True)
class DemoOwner:
    key: int
    first_name: str
    last_name: str
    email: str
    active: bool = True


@dataclass(frozen=True, kw_only=True)
class DemoCompany:
    key: int
    name: str
    domain: str


@dataclass(frozen=True, kw_only=True)
class DemoContact:
    key: int
    first_name: str
    last_name: str
    email: str
    company: int


@dataclass(frozen=True, kw_only=True)
class DemoContactRole:
    contact: int
    role: str
    primary: bool = False


@dataclass(frozen=True, kw_only=True)
class DemoDeal:
    key: int
    name: str
    stage: str
    """"won", "open" or "lost" (each sandbox maps it to its own stage names)."""
    close_date: dt.date
    amount: float | None
    owner: int
    company: int | None
    contacts: tuple[DemoContactRole, ...]
    fields: dict[str, object] = field(default_factory=dict)
    """Canonical name -> value (str, date or None); ``renewal_date`` is a date or None."""
    modified_at: dt.datetime
    custom_pipeline: bool = False
    deal_type: str | None = None
    """"new", "expansion" or "renewal" (each sandbox stores its CRM's value: HubSpot's Deal type,
    Salesforce's Opportunity Type); None leaves the field empty."""
    note: str = ""
    """Why this deal is in the demo set (shown nowhere; helps a reader of the data)."""


@dataclass(frozen=True, kw_only=True)
class DemoNpsResponse:
    response_id: str
    email: str
    score: int
    responded_at: dt.datetime
    comment: str | None = None


@dataclass(frozen=True, kw_only=True)
class DemoDataset:
    anchor: dt.date
    owners: tuple[DemoOwner, ...]
    companies: tuple[DemoCompany, ...]
    contacts: tuple[DemoContact, ...]
    deals: tuple[DemoDeal, ...]
    nps_responses: tuple[DemoNpsResponse, ...] = ()

    def won_deals(self) -> list[DemoDeal]:
        return [d for d in self.deals if d.stage == "won"]


_OWNERS = (
    ("Ada", "Lovelace", True),
    ("Grace", "Hopper", True),
    ("Alan", "Turing", True),
    ("Katherine", "Johnson", True),
    ("Edsger", "Dijkstra", True),
    ("Former", "Rep", False),
)
_COMPANIES = (
    "Acme Corp", "Globex", "Initech", "Umbrella Health", "Stark Industries", "Wayne Enterprises",
    "Hooli", "Pied Piper", "Vandelay Industries", "Soylent Foods", "O'Reilly & Sons", "Müller GmbH",
    "Café Ñandú", "Tyrell Corp", "Cyberdyne", "Wonka Chocolate", "Oceanic Air", "Duff Brewing",
    "Gringotts", "Zorg Industries",
)
_FIRST = ("Maria", "John", "Wei", "Fatima", "Lars", "Ngozi", "Carlos", "Yuki", "Priya", "Tom")
_LAST = ("Garcia", "Smith", "Chen", "Khan", "Berg", "Okafor", "Silva", "Sato", "Patel", "O'Brien")


def add_years(day: dt.date, years: int) -> dt.date:
    """The same calendar day ``years`` later; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def _owners() -> tuple[DemoOwner, ...]:
    return tuple(
        DemoOwner(key=i, first_name=first, last_name=last, email=f"{first.lower()}.{last.lower()}@vendor.example",
                  active=active)
        for i, (first, last, active) in enumerate(_OWNERS)
    )


def _companies(count: int) -> tuple[DemoCompany, ...]:
    out = []
    for i in range(count):
        base = _COMPANIES[i % len(_COMPANIES)]
        name = base if i < len(_COMPANIES) else f"{base} {i // len(_COMPANIES) + 1}"
        slug = "".join(ch for ch in name.lower() if ch.isascii() and ch.isalnum()) or f"co{i}"
        out.append(DemoCompany(key=i, name=name, domain=f"{slug}.example"))
    return tuple(out)


def _contacts(companies: tuple[DemoCompany, ...], per_company: int) -> tuple[DemoContact, ...]:
    out = []
    for company in companies:
        for j in range(per_company):
            k = len(out)
            first, last = _FIRST[k % len(_FIRST)], _LAST[(k // len(_FIRST) + j) % len(_LAST)]
            email = f"{first.lower()}.{last.lower().replace(chr(39), '')}{k}@{company.domain}"
            out.append(DemoContact(key=k, first_name=first, last_name=last, email=email, company=company.key))
    return tuple(out)


def _complete_fields(i: int, close: dt.date, renewal: dt.date | None) -> dict[str, object]:
    return {
        "first_touch_channel": CHANNELS[i % len(CHANNELS)],
        "decision_criteria": CRITERIA[i % len(CRITERIA)],
        "customer_goal": GOALS[i % len(GOALS)],
        "success_criteria": SUCCESS[i % len(SUCCESS)],
        "renewal_date": renewal,
    }


def _roles(contacts: list[DemoContact], count: int, offset: int) -> tuple[DemoContactRole, ...]:
    chosen = contacts[:count]
    return tuple(
        DemoContactRole(contact=c.key, role=ROLES[(offset + n) % len(ROLES)], primary=(n == 0))
        for n, c in enumerate(chosen)
    )


class _DealBook:
    """Collects the demo deals in order; each deal's defaults (owner, amount, contacts, modified
    time) follow from its position, so the set is the same on every call."""

    def __init__(self, anchor: dt.date, companies: tuple[DemoCompany, ...], contacts: tuple[DemoContact, ...]):
        self.anchor = anchor
        self.companies = companies
        self.by_company = {c.key: [x for x in contacts if x.company == c.key] for c in companies}
        self.base_modified = dt.datetime.combine(anchor, dt.time(6, 0), UTC) - dt.timedelta(days=2)
        self.deals: list[DemoDeal] = []

    def days_ago(self, days: int) -> dt.date:
        return self.anchor - dt.timedelta(days=days)

    def add(self, **kw) -> None:
        i = len(self.deals)
        company = kw.pop("company", i % len(self.companies))
        kw.setdefault("owner", i % 5)
        kw.setdefault("amount", float(5_000 + 1_250 * i))
        kw.setdefault("contacts", _roles(self.by_company[company], 2, i) if company is not None else ())
        kw.setdefault("modified_at", self.base_modified + dt.timedelta(minutes=7 * i))
        self.deals.append(DemoDeal(key=i, company=company, **kw))


def _won_complete(book: _DealBook) -> None:
    """Won, handoff complete, closed recently: the full playbook lies ahead."""
    for n in range(12):
        close = book.days_ago(n % 6)
        book.add(name=f"{book.companies[n].name} - Platform {2026 + n % 2}", stage="won", close_date=close,
                 fields=_complete_fields(n, close, add_years(close, 1)), note="won, complete handoff")


def _won_incomplete(book: _DealBook) -> None:
    """Won, handoff incomplete in different ways (expansions of existing customers), and with no
    stakeholder at all."""
    gaps = [
        {"decision_criteria": None}, {"customer_goal": "n/a"}, {"success_criteria": "tbd"},
        {"first_touch_channel": None, "customer_goal": None}, {"decision_criteria": "  "},
        {"success_criteria": None, "decision_criteria": None, "customer_goal": None},
    ]
    for n, gap in enumerate(gaps):
        close = book.days_ago(1 + n)
        book.add(name=f"{book.companies[12 + n].name} - Expansion", stage="won", close_date=close,
                 fields=_complete_fields(n + 3, close, None) | gap, deal_type="expansion",
                 note=f"won expansion, incomplete handoff {sorted(gap)}")
    close = book.days_ago(3)
    book.add(name="Lonely Deal Without Contacts", stage="won", close_date=close, company=18, contacts=(),
             fields=_complete_fields(7, close, None), note="won, no stakeholder")


def _won_bad_renewal_dates(book: _DealBook) -> None:
    """A renewal date before the close date, and one that is not a date: bad data an admin must see."""
    close = book.days_ago(4)
    book.add(name="Backwards Renewal Ltd", stage="won", close_date=close,
             fields=_complete_fields(8, close, close - dt.timedelta(days=30)), note="renewal before close")
    close = book.days_ago(2)
    book.add(name="Garbled Renewal Inc", stage="won", close_date=close,
             fields=_complete_fields(9, close, None) | {"renewal_date": "next spring"},
             note="unparseable renewal date")


def _won_long_ago_or_renewing_soon(book: _DealBook) -> None:
    """Onboarding in the past (skipped by catch-up) with renewals ahead, and a renewal in 50 days."""
    for n, years in enumerate((1, 2, 3)):
        close = book.days_ago(365 * years - 45)
        book.add(name=f"{book.companies[n + 3].name} - Legacy Contract {years}y", stage="won", close_date=close,
                 fields=_complete_fields(n, close, None), note=f"won ~{years} years ago")
    close = book.days_ago(300)
    book.add(name="Renewal Soon GmbH", stage="won", close_date=close,
             fields=_complete_fields(2, close, book.anchor + dt.timedelta(days=50)), note="renewal in 50 days")


def _won_awkward(book: _DealBook) -> None:
    """Odd names, an inactive owner, the custom pipeline, and equal modified timestamps."""
    for n, name in enumerate((
        "O'Reilly & Sons \"Premium\" 🚀", "Back\\slash; DROP TABLE deals;--", "Café Ñandú — año 2",
        "Zorg " + "Ultra " * 30 + "Edition",
    )):
        close = book.days_ago(n)
        book.add(name=name, stage="won", close_date=close, fields=_complete_fields(n, close, None), note="odd name")
    close = book.days_ago(1)  # the CRM rejects tasks assigned to an inactive user
    book.add(name="Orphaned Account Co", stage="won", close_date=close, owner=5,
             fields=_complete_fields(5, close, None), note="inactive owner")
    for n in range(3):  # numeric stage ids in HubSpot
        close = book.days_ago(n + 1)
        book.add(name=f"{book.companies[n + 8].name} - Partner Channel", stage="won", close_date=close,
                 custom_pipeline=True, fields=_complete_fields(n, close, None), note="custom pipeline")
    tie = book.base_modified + dt.timedelta(hours=12)  # the cursor's tie-break on deal id
    for n in range(3):
        close = book.days_ago(2)
        book.add(name=f"Same Second Deal {n + 1}", stage="won", close_date=close, modified_at=tie,
                 fields=_complete_fields(n, close, None), note="equal timestamps")


def _not_won(book: _DealBook) -> None:
    """Open and lost deals: AfterClose must leave them alone."""
    for n in range(5):
        book.add(name=f"{book.companies[n + 10].name} - Open Opportunity", stage="open",
                 close_date=book.anchor + dt.timedelta(days=30 + n), fields={"first_touch_channel": "Web"},
                 note="open")
    for n in range(4):
        book.add(name=f"{book.companies[n + 14].name} - Lost Bid", stage="lost", close_date=book.days_ago(10 + n),
                 fields={}, note="lost", custom_pipeline=n == 0)


def _customers_over_time(book: _DealBook) -> None:
    """Segments over a customer's life: a long-standing customer whose renewals are renewal deals
    (only the latest carries the renewal ladder), an expansion of a new customer, and a large and a
    small new customer."""
    hooli = 6
    first = book.days_ago(2 * 365 + 40)
    book.add(name="Hooli - Platform (first contract)", stage="won", close_date=first, company=hooli,
             fields=_complete_fields(6, first, None), deal_type="new", amount=48_000.0,
             note="long-standing customer: its renewals came as renewal deals")
    for years, label in ((1, "2nd year"), (0, "3rd year")):
        close = book.days_ago(years * 365 + 40)
        book.add(name=f"Hooli - Renewal ({label})", stage="won", close_date=close, company=hooli,
                 fields=_complete_fields(6, close, None), deal_type="renewal", amount=52_000.0,
                 note="renewal deal: the latest carries the customer's renewal ladder")
    close = book.days_ago(3)
    book.add(name="Acme Corp - Extra seats", stage="won", close_date=close, company=0,
             fields=_complete_fields(0, close, None), deal_type="expansion", amount=9_500.0,
             note="expansion of a new customer: an adoption check, no second kickoff")
    for name, amount in (("Initech - Enterprise rollout", 240_000.0), ("Globex - Starter plan", 5_400.0)):
        close = book.days_ago(2)
        book.add(name=name, stage="won", close_date=close, company=2 if "Initech" in name else 1,
                 fields=_complete_fields(2, close, None), deal_type="new", amount=amount,
                 note="a large and a small new customer (segment them by amount in a playbook file)")


def demo_dataset(anchor: dt.date | None = None) -> DemoDataset:
    """The hand-made demo set: ~55 deals covering every state the pipeline must handle.

    ``anchor`` is "today" for the data (close dates are relative to it so the playbook has
    current work to do); it defaults to the real date, and tests pass a fixed one.
    """
    anchor = anchor or dt.datetime.now(UTC).date()
    companies = _companies(len(_COMPANIES))
    contacts = _contacts(companies, per_company=3)
    book = _DealBook(anchor, companies, contacts)
    for section in (_won_complete, _won_incomplete, _won_bad_renewal_dates, _won_long_ago_or_renewing_soon,
                    _won_awkward, _not_won, _customers_over_time):
        section(book)
    return DemoDataset(anchor=anchor, owners=_owners(), companies=companies, contacts=contacts,
                       deals=tuple(book.deals), nps_responses=_nps_for(book.deals, contacts, anchor))


def _nps_for(deals: list[DemoDeal], contacts: tuple[DemoContact, ...], anchor: dt.date):
    """A few responses from won deals' main contacts: promoters, passives, detractors."""
    by_key = {c.key: c for c in contacts}
    won = [d for d in deals if d.stage == "won" and d.contacts]
    scores = (10, 9, 9, 8, 7, 6, 3, 0, 10, 5)
    out = []
    for n, (deal, score) in enumerate(zip(won, scores, strict=False)):
        contact = by_key[deal.contacts[0].contact]
        at = dt.datetime.combine(anchor, dt.time(10, 0), UTC) - dt.timedelta(days=n)
        out.append(DemoNpsResponse(response_id=f"nps-{n + 1:04d}", email=contact.email, score=score,
                                   responded_at=at, comment=None if score > 8 else "Onboarding was slow"))
    return tuple(out)


def scaled_dataset(n: int, anchor: dt.date | None = None, seed: int = 7) -> DemoDataset:
    """``n`` deals in a realistic mix, for benchmarks and reliability runs.

    ~85% won (60% of them with a complete handoff), the rest open or lost; close dates over the
    last 18 months; renewal dates spread over the coming year; 1-3 contacts per deal.
    """
    anchor = anchor or dt.datetime.now(UTC).date()
    rng = random.Random(seed)
    owners = _owners()
    companies = _companies(max(1, n // 3))
    contacts = _contacts(companies, per_company=3)
    base_modified = dt.datetime.combine(anchor, dt.time(0, 0), UTC) - dt.timedelta(days=30)
    deals = []
    for i in range(n):
        company = companies[i % len(companies)]
        roll = rng.random()
        stage = "won" if roll < 0.85 else ("open" if roll < 0.93 else "lost")
        close = anchor - dt.timedelta(days=rng.randrange(0, 540))
        renewal = anchor + dt.timedelta(days=rng.randrange(1, 365)) if rng.random() < 0.7 else None
        fields = _complete_fields(i, close, renewal)
        if rng.random() > 0.6:
            gap = rng.choice(HANDOFF_FIELDS)
            fields[gap] = rng.choice((None, "n/a", "tbd", ""))
        own = [c for c in contacts[company.key * 3: company.key * 3 + 3]]
        roles = _roles(own, rng.randrange(0, 4), i)
        deals.append(DemoDeal(
            key=i, name=f"{company.name} - Deal {i}", stage=stage, close_date=close,
            amount=float(rng.randrange(1_000, 250_000)), owner=rng.randrange(0, 5),
            company=company.key, contacts=roles, fields=fields if stage == "won" else {},
            modified_at=base_modified + dt.timedelta(seconds=i // 3),
            custom_pipeline=rng.random() < 0.2, note="scaled",
        ))
    return DemoDataset(anchor=anchor, owners=owners, companies=companies, contacts=contacts,
                       deals=tuple(deals), nps_responses=())
