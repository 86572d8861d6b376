"""The compatibility table (connector/mapping/compat.py), cell by cell, as mappings/README.md states it."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from connector.mapping import FieldType
from connector.mapping.compat import (
    KIND_OF,
    Compatible,
    CrmField,
    CrmKind,
    Note,
    Refusal,
    date_as_datetime,
    kind_of,
    verdict,
    writes_values,
)
from connector.model import Provider

T, N, D, DT, E, B = (FieldType.TEXT, FieldType.NUMBER, FieldType.DATE, FieldType.DATETIME, FieldType.ENUM,
                     FieldType.BOOL)
K = CrmKind
C, NOTE, R = "compatible", "note", "refused"

# (canonical type, CRM kind) -> (a field AfterClose only reads, a write-back target): the README's
# table, written out by hand. A rep may type anything into a text field, so numbers, dates and
# checkboxes are never read from one; AfterClose may write them there as text.
EXPECTED = {
    (T, K.TEXT): (C, C), (T, K.FORMATTED_TEXT): (NOTE, R), (T, K.PICKLIST): (C, R),
    (T, K.MULTIPICKLIST): (NOTE, R), (T, K.NUMBER): (NOTE, R), (T, K.DATE): (NOTE, R), (T, K.DATETIME): (NOTE, R),
    (T, K.BOOL): (NOTE, R), (T, K.OTHER): (R, R),
    (N, K.NUMBER): (C, C), (N, K.TEXT): (R, NOTE),
    (D, K.DATE): (C, C), (D, K.DATETIME): (NOTE, NOTE), (D, K.TEXT): (R, NOTE),
    (DT, K.DATETIME): (C, C), (DT, K.DATE): (NOTE, R), (DT, K.TEXT): (R, NOTE),
    (E, K.PICKLIST): (C, C), (E, K.TEXT): (NOTE, NOTE),
    (B, K.BOOL): (C, C), (B, K.PICKLIST): (NOTE, NOTE), (B, K.TEXT): (R, NOTE),
}
OPTIONS = ("complete", "incomplete", "true", "false")


def _field(kind: CrmKind, options=OPTIONS, **kwargs) -> CrmField:
    return CrmField(name="x__c", label="X", type=f"<{kind.value}>", kind=kind, options=options, **kwargs)


def _said(found) -> str:
    return {Compatible: C, Note: NOTE, Refusal: R}[type(found)]


@pytest.mark.parametrize("ctype", list(FieldType))
@pytest.mark.parametrize("kind", list(CrmKind))
def test_every_cell_of_the_table_reads_and_writes_as_the_readme_says(ctype, kind):
    read, write = EXPECTED.get((ctype, kind), (R, R))
    values = writes_values(ctype, ("complete", "incomplete"))
    assert _said(verdict(ctype, values, _field(kind), write=False)) == read
    assert _said(verdict(ctype, values, _field(kind), write=True)) == write


def test_a_note_is_one_line_and_a_refusal_names_both_types():
    note = verdict(E, ("a",), CrmField(name="referral_status", label="", type="string", kind=K.TEXT))
    assert isinstance(note, Note) and "\n" not in note.text and note.write_as is FieldType.TEXT
    refused = verdict(N, None, CrmField(name="n", label="", type="enumeration", kind=K.PICKLIST))
    assert isinstance(refused, Refusal)
    assert "enumeration" in refused.text and "number" in refused.text


def test_a_date_into_a_datetime_field_is_written_as_midnight_in_the_playbook_zone():
    found = verdict(D, None, _field(K.DATETIME))
    assert isinstance(found, Note) and found.write_as is FieldType.DATETIME
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    assert date_as_datetime(dt.date(2026, 1, 31), berlin) == "2026-01-30T23:00:00Z"
    assert date_as_datetime(dt.date(2026, 7, 1), berlin) == "2026-06-30T22:00:00Z"


def test_given_a_picklist_lacking_options_then_the_missing_ones_are_listed_and_who_can_add_them_is_said():
    values = ("not_eligible", "eligible", "asked")
    own_hubspot = _field(K.PICKLIST, options=("eligible",), own=True, provider=Provider.HUBSPOT)
    found = verdict(E, values, own_hubspot)
    assert isinstance(found, Refusal) and found.missing_options == ("not_eligible", "asked")
    assert found.fixable_by_setup and "afterclose setup" in found.text
    theirs = verdict(E, values, _field(K.PICKLIST, options=("eligible",), own=False, provider=Provider.HUBSPOT))
    assert isinstance(theirs, Refusal) and not theirs.fixable_by_setup
    assert "not AfterClose's own field" in theirs.text and "not_eligible, asked" in theirs.text
    salesforce = verdict(E, values, _field(K.PICKLIST, options=(), own=True, provider=Provider.SALESFORCE))
    assert isinstance(salesforce, Refusal) and salesforce.fixable_by_setup
    unknown_crm = verdict(E, values, _field(K.PICKLIST, options=(), own=True))
    assert isinstance(unknown_crm, Refusal) and not unknown_crm.fixable_by_setup
    assert "add them to the field in the CRM" in unknown_crm.text


def test_each_crm_names_its_own_types():
    assert kind_of(Provider.HUBSPOT, "string") is K.TEXT
    assert kind_of(Provider.HUBSPOT, "enumeration", "select") is K.PICKLIST
    assert kind_of(Provider.HUBSPOT, "enumeration", "checkbox") is K.MULTIPICKLIST
    assert kind_of(Provider.SALESFORCE, "combobox") is K.TEXT
    assert kind_of(Provider.SALESFORCE, "reference") is K.OTHER
    assert set(KIND_OF) == set(Provider)
