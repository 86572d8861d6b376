"""The field picker's list from the live CRM (``SupportsFieldList``), judged by the one table."""

from __future__ import annotations

from jobs.cli.runtime import load_runtime
from jobs.console.catalog import LiveFieldCatalog, field_catalog, mapping_keys


def test_given_a_live_portal_then_the_picker_lists_only_fields_that_can_hold_the_keys_type(hubspot):
    hubspot.sandbox.define_property("deals", "go_live", type="date", field_type="date", label="Go-live")
    runtime = load_runtime(hubspot.config(), configure_logs=False)
    catalog = field_catalog(runtime, runtime.fieldmap.source)
    assert isinstance(catalog, LiveFieldCatalog)
    keys = {key.key: key for key in mapping_keys(runtime)}
    renewal = {f.name: f for f in catalog.choices(keys["fields.renewal_date"])}
    assert {"renewal_date", "go_live", "closedate"} <= set(renewal)  # a date is read from a date-time too
    assert "dealname" not in renewal and "amount" not in renewal
    assert renewal["go_live"].label == "Go-live" and renewal["go_live"].type == "date"
    status = {f.name for f in catalog.choices(keys["fields.handoff_status"])}
    assert "handoff_status" in status and "description" in status  # enum values written as text
    assert "amount" not in status
    assert catalog.choices(keys["task.key_field"])[0].name == "afterclose_key"
