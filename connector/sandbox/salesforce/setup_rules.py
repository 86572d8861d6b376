"""Write rules of the permission objects (schema_setup.py), checked by the store on create/update.

- ``FieldPermissions.Field`` and ``SobjectType`` are restricted picklists in Salesforce: a field
  that does not exist, or cannot carry field-level security (required and system fields), is
  INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST; ``Field`` must start with ``SobjectType + "."``
  [DOC: object reference, FieldPermissions].
- Edit needs read (facts §7): PermissionsEdit without PermissionsRead is refused
  (FIELD_INTEGRITY_EXCEPTION, [STRICT]: Salesforce's wording for this case is not documented).
- ``PermissionSet.Name`` is an API name, unique in the org (DUPLICATE_DEVELOPER_NAME).
- One FieldPermissions row per permission set and field, one assignment per user and permission
  set: a second is DUPLICATE_VALUE (the message Salesforce gives for duplicate setup rows:
  "duplicate value found: <unknown> duplicates value on record with id: <unknown>" [2ND]).
"""

from __future__ import annotations

import re

from .errors import RecordError
from .schema import FieldDef, ObjectDef

API_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,79}")
SETUP_OBJECTS = frozenset({"PermissionSet", "FieldPermissions", "PermissionSetAssignment"})


def permissionable(catalog: dict[str, ObjectDef], obj: str, field: str) -> bool:
    """A field FieldPermissions may name: custom or optional standard fields, not required or
    system ones (their access cannot be taken away)."""
    odef = next((o for n, o in catalog.items() if n.lower() == obj.lower()), None)
    fd = odef.field(field) if odef is not None else None
    return odef is not None and fd is not None and field_permissionable(odef, fd)


def field_permissionable(odef: ObjectDef, fd: FieldDef) -> bool:
    """Describe's ``permissionable`` for one field (the same rule)."""
    if odef.name in SETUP_OBJECTS or fd.name == "OwnerId" or fd.type == "id":
        return False
    return fd.custom or (fd.nillable and (fd.createable or fd.updateable) and not fd.calculated)


def _duplicate(fields: list[str]) -> RecordError:
    return RecordError("DUPLICATE_VALUE", "duplicate value found: <unknown> duplicates value on record with id: "
                       "<unknown>", fields)


def check(store, odef: ObjectDef, record: dict) -> None:
    if odef.name == "PermissionSet":
        _check_permission_set(store, record)
    elif odef.name == "FieldPermissions":
        _check_field_permissions(store, record)
    elif odef.name == "PermissionSetAssignment":
        key = (record["AssigneeId"], record["PermissionSetId"])
        if any(not a["IsDeleted"] and a["Id"] != record.get("Id") and (a["AssigneeId"], a["PermissionSetId"]) == key
               for a in store.tables["PermissionSetAssignment"].values()):
            raise _duplicate(["AssigneeId", "PermissionSetId"])


def _check_field_permissions(store, record: dict) -> None:
    sobject, field = record["SobjectType"], record["Field"]
    obj, dot, name = field.partition(".")
    if not any(n.lower() == sobject.lower() for n in store.catalog) or sobject in SETUP_OBJECTS:
        raise RecordError("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                          f"SObject Type: bad value for restricted picklist field: {sobject}", ["SobjectType"])
    if not dot or obj.lower() != sobject.lower() or not permissionable(store.catalog, obj, name):
        raise RecordError("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                          f"Field Name: bad value for restricted picklist field: {field}", ["Field"])
    if record["PermissionsEdit"] and not record["PermissionsRead"]:
        raise RecordError("FIELD_INTEGRITY_EXCEPTION",
                          f"{field}: PermissionsEdit needs PermissionsRead (edit access includes read access)",
                          ["PermissionsRead", "PermissionsEdit"])
    key = (record["ParentId"], field.lower())
    if any(not p["IsDeleted"] and p["Id"] != record.get("Id") and (p["ParentId"], p["Field"].lower()) == key
           for p in store.tables["FieldPermissions"].values()):
        raise _duplicate(["Field"])


def _check_permission_set(store, record: dict) -> None:
    """``Name`` is the API name: letters, digits and single underscores, unique in the org
    (DUPLICATE_DEVELOPER_NAME, the code Salesforce gives a second component with one developer
    name [DOC: SOAP API StatusCode list]; [STRICT] for permission sets)."""
    name = record["Name"] or ""
    if not API_NAME.fullmatch(name) or "__" in name or name.endswith("_"):
        raise RecordError("FIELD_INTEGRITY_EXCEPTION", f"Name: {name!r} is not a valid API name (letters, digits and "
                          "single underscores, starting with a letter, at most 80 characters)", ["Name"])
    if any(not p["IsDeleted"] and p["Id"] != record.get("Id") and p["Name"].lower() == name.lower()
           for p in store.tables["PermissionSet"].values()):
        raise RecordError("DUPLICATE_DEVELOPER_NAME", f"The API name {name} is already in use by another permission "
                          "set", ["Name"])
