"""What a property definition may say: the type and fieldType vocabularies, which fieldTypes go with
which type, the display-hint enums, and one option of an enumeration.

- ``type`` enum: bool, date, datetime, enumeration, number, phone_number, string; ``fieldType`` enum:
  booleancheckbox, calculation_equation, checkbox, date, file, html, number, phonenumber, radio,
  select, text, textarea; ``numberDisplayHint``, ``textDisplayHint``, ``dataSensitivity`` enums
  [SPEC ``PropertyCreate``/``PropertyUpdate`` in HubSpot/HubSpot-public-api-spec-collection,
  PublicApiSpecs/CRM/Properties/Rollouts/145899/v3/properties.json]. (hubspot-api-client 12's own
  enums are older and lack phone_number, html and phonenumber.)
- Which fieldType values each type takes: the properties guide's table "Valid values for type field
  and compatible fieldType values" [DOC https://developers.hubspot.com/docs/api/crm/properties].
  The guide's row for ``phone_number`` was not found; the sandbox allows only ``phonenumber`` there
  (stricter reading).
- Options: ``OptionInput`` needs label, value and hidden; displayOrder and description are optional [SPEC].
"""

from __future__ import annotations

from dataclasses import dataclass

TYPES = frozenset({"bool", "date", "datetime", "enumeration", "number", "phone_number", "string"})
FIELD_TYPES = frozenset({"booleancheckbox", "calculation_equation", "checkbox", "date", "file", "html", "number",
                         "phonenumber", "radio", "select", "text", "textarea"})
FIELD_TYPES_OF_TYPE = {
    "bool": frozenset({"booleancheckbox", "calculation_equation"}),
    "enumeration": frozenset({"booleancheckbox", "checkbox", "radio", "select", "calculation_equation"}),
    "date": frozenset({"date"}),
    "datetime": frozenset({"date"}),
    "string": frozenset({"file", "text", "textarea", "calculation_equation", "html", "phonenumber"}),
    "number": frozenset({"number", "calculation_equation"}),
    "phone_number": frozenset({"phonenumber"}),
}
NUMBER_DISPLAY_HINTS = frozenset({"currency", "duration", "formatted", "percentage", "probability", "unformatted"})
TEXT_DISPLAY_HINTS = frozenset({"domain_name", "email", "ip_address", "multi_line", "phone_number",
                                "physical_address", "postal_code", "unformatted_single_line"})
DATA_SENSITIVITIES = frozenset({"highly_sensitive", "non_sensitive", "sensitive"})


def type_problem(type_: str, field_type: str) -> str | None:
    """Why ``type``/``fieldType`` cannot define a property, or None when they can."""
    if type_ not in TYPES:
        return f"type {type_!r} is not one of {sorted(TYPES)}"
    if field_type not in FIELD_TYPES:
        return f"fieldType {field_type!r} is not one of {sorted(FIELD_TYPES)}"
    if field_type not in FIELD_TYPES_OF_TYPE[type_]:
        return (f"fieldType {field_type!r} cannot be used with type {type_!r}; "
                f"valid fieldType values for {type_}: {sorted(FIELD_TYPES_OF_TYPE[type_])}")
    return None


@dataclass(frozen=True)
class OptionDef:
    """One option of an enumeration. Iterates as ``(label, value)``, the pair seeds and tests write."""

    label: str
    value: str
    display_order: int = -1
    hidden: bool = False
    description: str = ""

    def __iter__(self):
        yield self.label
        yield self.value

    def to_json(self) -> dict:
        return {"label": self.label, "value": self.value, "displayOrder": self.display_order,
                "hidden": self.hidden, "description": self.description}


def as_option(raw: object, position: int) -> OptionDef:
    """An ``OptionDef`` from a (label, value) pair or an existing ``OptionDef``."""
    if isinstance(raw, OptionDef):
        return raw
    label, value = raw  # type: ignore[misc]
    return OptionDef(label=str(label), value=str(value), display_order=position)
