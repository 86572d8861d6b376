"""NPS core: categories, matching responses to customers, latest/average policy, write-backs."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.actions import CreateTask, UpdateRecord
from connector.mapping import FieldSpec, FieldType
from connector.model import Company, NpsContact, NpsResponse, RecordKind
from jobs.core.nps import (
    KnownAccount,
    NpsPolicy,
    NpsSnapshot,
    category,
    match,
    plan_nps,
    summarise,
)
from tests.builders import at, make_deal, make_fieldmap

NOW = at(2026, 3, 10, 8)  # a Tuesday


def nps_fields(record: RecordKind = RecordKind.DEAL, prefix: str = "", *, write: bool = True) -> list[FieldSpec]:
    def spec(name: str, type_: FieldType, **extra) -> FieldSpec:
        return FieldSpec(canonical=f"{prefix}{name}", record=record, crm_name=f"{prefix}{name}", type=type_,
                         write=write, **extra)

    return [
        spec("nps_score", FieldType.NUMBER),
        spec("nps_category", FieldType.ENUM, options=("promoter", "passive", "detractor")),
        spec("nps_date", FieldType.DATE),
        spec("nps_comment", FieldType.TEXT),
        spec("referral_status", FieldType.ENUM,
             options=("not_eligible", "eligible", "asked", "referred", "declined")),
        spec("referral_status_date", FieldType.DATE),
    ]


def nps_fieldmap(*, company: bool = False, write: bool = True):
    extra = nps_fields(write=write)
    if company:
        extra += nps_fields(RecordKind.COMPANY, "company_", write=write)
    return make_fieldmap(extra_fields=extra)


def response(score: int = 9, *, email: str | None = "maria.garcia@acme.example", when: dt.datetime | None = None,
             rid: str = "r-1", account_id: str | None = None, comment: str | None = None) -> NpsResponse:
    return NpsResponse(response_id=rid, email=email, score=score, responded_at=when or at(2026, 3, 9, 10),
                       comment=comment, account_id=account_id, source="test")


CONTACT = NpsContact(id="contact-1", email="maria.garcia@acme.example", company_id="company-1", name="Maria Garcia")
ACCOUNT = KnownAccount(id="company-1", won_deal_ids=("1001",), name="Acme Corp", owner_id="owner-9")


def matched(*responses: NpsResponse, account: KnownAccount = ACCOUNT):
    result = match(responses, {CONTACT.email: CONTACT}, {account.id: account})
    assert result.unmatched == ()
    return result.matched


def snapshot(account: KnownAccount = ACCOUNT, deals=None, ledger=None) -> NpsSnapshot:
    deals = deals if deals is not None else [make_deal()]
    return NpsSnapshot(accounts={account.id: account}, contacts=(CONTACT,),
                       deals={d.id: d for d in deals}, ledger=ledger or {})


def updates(actions) -> dict[tuple[RecordKind, str], dict]:
    return {(a.update.kind, a.update.record_id): dict(a.update.values) for a in actions if isinstance(a, UpdateRecord)}


# --- category ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("score", "expected"), [
    (0, "detractor"), (6, "detractor"), (7, "passive"), (8, "passive"), (9, "promoter"), (10, "promoter"),
])
def test_given_score_on_boundary_then_category_follows_nps_bands(score, expected):
    assert category(score) == expected


def test_given_average_between_bands_then_lower_band_until_the_boundary():
    assert category(Decimal("8.9")) == "passive"
    assert category(Decimal("6.9")) == "detractor"
    assert category(Decimal("9.0")) == "promoter"


@given(st.integers(min_value=0, max_value=10))
def test_every_valid_score_has_exactly_the_band_its_range_says(score):
    expected = "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"
    assert category(score) == expected


# --- matching ----------------------------------------------------------------------------------


@pytest.mark.parametrize("email", ["Maria.Garcia@ACME.example", "  maria.garcia@acme.example  "])
def test_given_email_with_other_case_or_spaces_then_matched_to_the_contact(email):
    result = match([response(email=email)], {CONTACT.email: CONTACT}, {ACCOUNT.id: ACCOUNT})
    assert [(m.account.id, m.contact.id, m.via) for m in result.matched] == [("company-1", "contact-1", "email")]


def test_given_crm_email_key_in_mixed_case_then_still_matched():
    result = match([response()], {"Maria.Garcia@Acme.Example ": CONTACT}, {ACCOUNT.id: ACCOUNT})
    assert len(result.matched) == 1


def test_given_account_id_then_matched_directly_without_email():
    result = match([response(email=None, account_id="company-1")], {}, {ACCOUNT.id: ACCOUNT})
    assert [(m.account.id, m.contact, m.via) for m in result.matched] == [("company-1", None, "account_id")]


def test_given_unknown_account_id_but_known_email_then_matched_by_email():
    result = match([response(account_id="nope")], {CONTACT.email: CONTACT}, {ACCOUNT.id: ACCOUNT})
    assert result.matched[0].via == "email"


@pytest.mark.parametrize(("resp", "contacts", "accounts", "reason"), [
    (response(email="who@else.example"), {CONTACT.email: CONTACT}, {ACCOUNT.id: ACCOUNT},
     "no CRM contact has the email 'who@else.example'"),
    (response(), {CONTACT.email: NpsContact(id="c9", email=CONTACT.email, company_id=None)}, {ACCOUNT.id: ACCOUNT},
     "contact c9 (maria.garcia@acme.example) has no company"),
    (response(), {CONTACT.email: NpsContact(id="c9", email=CONTACT.email, company_id="other")},
     {ACCOUNT.id: ACCOUNT}, "belongs to company other, which has no won deal"),
    (response(email=None, account_id="nope"), {}, {ACCOUNT.id: ACCOUNT},
     "account id 'nope' is not an account with a won deal"),
    (response(email=None, account_id="company-1"), {},
     {"company-1": KnownAccount(id="company-1", won_deal_ids=())}, "account company-1 has no won deal"),
    (response(email=None), {}, {}, "no email and no account id"),
])
def test_given_response_that_cannot_be_tied_then_unmatched_with_reason(resp, contacts, accounts, reason):
    result = match([resp], contacts, accounts)
    assert result.matched == ()
    assert reason in result.unmatched[0].reason


def test_given_two_crm_contacts_sharing_an_email_then_unmatched_as_ambiguous():
    twin = NpsContact(id="contact-2", email="MARIA.GARCIA@acme.example", company_id="company-1")
    result = match([response()], {CONTACT.email: CONTACT, twin.email: twin}, {ACCOUNT.id: ACCOUNT})
    assert "several CRM contacts share the email" in result.unmatched[0].reason


# --- latest vs average -------------------------------------------------------------------------------


def test_given_latest_policy_then_the_most_recent_response_decides():
    responses = [response(10, rid="a", when=at(2026, 1, 1)), response(3, rid="b", when=at(2026, 3, 1)),
                 response(9, rid="c", when=at(2026, 2, 1))]
    summary = summarise(responses, NpsPolicy())
    assert (summary.score, summary.category, summary.latest.response_id) == (3, "detractor", "b")


def test_given_average_policy_then_mean_of_responses_inside_the_window_rounded_to_one_decimal():
    responses = [response(2, rid="old", when=at(2025, 1, 1)), response(10, rid="a", when=at(2026, 2, 1)),
                 response(8, rid="b", when=at(2026, 2, 20)), response(9, rid="c", when=at(2026, 3, 1))]
    summary = summarise(responses, NpsPolicy(aggregate="average", window_days=90))
    assert summary.score == Decimal("9")
    assert summary.category == "promoter"
    assert summary.count == 3
    assert summary.responded_at == at(2026, 3, 1)


def test_given_average_between_bands_then_category_of_the_rounded_average():
    responses = [response(9, rid="a", when=at(2026, 3, 1)), response(8, rid="b", when=at(2026, 3, 2))]
    summary = summarise(responses, NpsPolicy(aggregate="average"))
    assert (summary.score, summary.category) == (Decimal("8.5"), "passive")


def test_given_same_timestamp_then_latest_is_chosen_stably_by_response_id():
    when = at(2026, 3, 1)
    one, two = response(3, rid="a", when=when), response(10, rid="b", when=when)
    assert summarise([one, two], NpsPolicy()).latest.response_id == "b"
    assert summarise([two, one], NpsPolicy()).latest.response_id == "b"


# --- write-back -----------------------------------------------------------------------------------


def test_given_new_response_then_score_category_date_comment_written_to_the_won_deal():
    actions = plan_nps(matched(response(7, comment="Fine")), snapshot(), nps_fieldmap(), NpsPolicy(), NOW)
    assert updates(actions)[(RecordKind.DEAL, "1001")] == {
        "nps_score": "7", "nps_category": "passive", "nps_date": "2026-03-09", "nps_comment": "Fine",
        "referral_status": "not_eligible"}


def test_given_crm_already_holds_the_same_values_in_other_spelling_then_nothing_written():
    deal = make_deal(fields={"nps_score": "7.0", "nps_category": "passive", "nps_date": "2026-03-09T00:00:00Z",
                             "nps_comment": "Fine", "referral_status": "not_eligible"})
    actions = plan_nps(matched(response(7, comment="Fine")), snapshot(deals=[deal]), nps_fieldmap(), NpsPolicy(), NOW)
    assert updates(actions) == {}


def test_given_only_the_score_changed_then_only_the_score_is_written():
    deal = make_deal(fields={"nps_score": "8", "nps_category": "passive", "nps_date": "2026-03-09",
                             "nps_comment": None, "referral_status": "not_eligible"})
    actions = plan_nps(matched(response(7)), snapshot(deals=[deal]), nps_fieldmap(), NpsPolicy(), NOW)
    assert updates(actions) == {(RecordKind.DEAL, "1001"): {"nps_score": "7"}}


def test_given_company_fields_mapped_then_company_written_too_and_unmapped_fields_never():
    actions = plan_nps(matched(response(7)), snapshot(), nps_fieldmap(company=True), NpsPolicy(), NOW)
    company = updates(actions)[(RecordKind.COMPANY, "company-1")]
    assert company["company_nps_score"] == "7"
    assert company["company_nps_category"] == "passive"
    without = plan_nps(matched(response(7)), snapshot(), nps_fieldmap(), NpsPolicy(), NOW)
    assert (RecordKind.COMPANY, "company-1") not in updates(without)


def test_given_fields_mapped_read_only_then_nothing_written():
    actions = plan_nps(matched(response(7)), snapshot(), nps_fieldmap(write=False), NpsPolicy(), NOW)
    assert updates(actions) == {}


def test_given_account_with_two_won_deals_then_both_deals_get_the_values():
    account = KnownAccount(id="company-1", won_deal_ids=("1001", "1002"), name="Acme Corp")
    deals = [make_deal(), make_deal(id="1002", close_date=dt.date(2026, 3, 5))]
    actions = plan_nps(matched(response(7), account=account), snapshot(account, deals), nps_fieldmap(),
                       NpsPolicy(), NOW)
    assert set(updates(actions)) == {(RecordKind.DEAL, "1001"), (RecordKind.DEAL, "1002")}
    # A deal's write-back is recorded under that deal (`status --deal` lists it there); what is the
    # account's (its company's values, its tasks) hangs on the most recently closed deal.
    assert {a.update.record_id: a.deal_id for a in actions if isinstance(a, UpdateRecord)
            and a.update.kind == RecordKind.DEAL} == {"1001": "1001", "1002": "1002"}
    assert {a.deal_id for a in actions if not (isinstance(a, UpdateRecord) and a.update.kind == RecordKind.DEAL)} \
        <= {"1002"}


def test_given_date_field_then_nps_date_is_the_day_in_the_playbook_zone():
    from jobs.core.playbook import Playbook
    tokyo = Playbook(touch_points=(), timezone="Asia/Tokyo")
    late_evening_utc = response(7, when=at(2026, 3, 9, 20))  # 05:00 on the 10th in Tokyo
    actions = plan_nps(matched(late_evening_utc), snapshot(), nps_fieldmap(), NpsPolicy(playbook=tokyo), NOW)
    assert updates(actions)[(RecordKind.DEAL, "1001")]["nps_date"] == "2026-03-10"


def test_given_newer_response_without_comment_then_stale_comment_is_cleared():
    deal = make_deal(fields={"nps_comment": "Old complaint"})
    actions = plan_nps(matched(response(9)), snapshot(deals=[deal]), nps_fieldmap(), NpsPolicy(), NOW)
    assert updates(actions)[(RecordKind.DEAL, "1001")]["nps_comment"] is None


def test_given_account_without_responses_or_news_then_no_action_at_all():
    assert plan_nps([], snapshot(), nps_fieldmap(), NpsPolicy(), NOW) == []


def test_every_write_says_why_with_the_values_and_the_basis():
    actions = plan_nps(matched(response(7)), snapshot(), nps_fieldmap(), NpsPolicy(), NOW)
    reason = next(a for a in actions if isinstance(a, UpdateRecord)).reason
    assert "nps_score None -> '7'" in reason
    assert "latest response (7 on 2026-03-09)" in reason


def test_given_repeated_run_with_written_values_then_plan_is_empty():
    fieldmap = nps_fieldmap()
    first = plan_nps(matched(response(7)), snapshot(), fieldmap, NpsPolicy(), NOW)
    written = updates(first)[(RecordKind.DEAL, "1001")]
    deal = make_deal(fields=written, company=Company(id="company-1", name="Acme Corp"))
    second = plan_nps(matched(response(7)), snapshot(deals=[deal]), fieldmap, NpsPolicy(), NOW)
    assert [a for a in second if not isinstance(a, CreateTask)] == []


# --- shape -----------------------------------------------------------------------------------------


def test_given_the_nps_date_field_holds_date_times_then_the_day_is_written_as_its_midnight_in_the_playbook_zone():
    """The schema check found ``nps_date`` to be a date-time field (connector/mapping/compat.py):
    the day the customer answered, in the team's zone, at midnight there."""
    import dataclasses

    fieldmap = nps_fieldmap().fitted(write_as={"nps_date": FieldType.DATETIME})
    default = NpsPolicy()
    policy = dataclasses.replace(default, playbook=dataclasses.replace(default.playbook, timezone="Europe/Berlin"))
    late_evening = at(2026, 3, 9, 23, 30)  # UTC: already 10 March in Berlin
    actions = plan_nps(matched(response(7, when=late_evening)), snapshot(), fieldmap, policy, NOW)
    assert updates(actions)[(RecordKind.DEAL, "1001")]["nps_date"] == "2026-03-09T23:00:00Z"
