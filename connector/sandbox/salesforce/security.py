"""Field-level security: which fields an API user can see and edit.

Salesforce answers every API call from the caller's point of view: a field the user cannot read
is absent from describe, unknown to SOQL ("No such column 'X' on entity 'Y'") and to writes
(INVALID_FIELD); a field the user can read but not edit says ``createable``/``updateable`` false
and writes to it fail with INVALID_FIELD_FOR_INSERT_UPDATE
[DOC: https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_describesobjects_describesobjectresult.htm].
A custom field created through the Tooling API is invisible to every user until field-level
security grants it (facts §7 [2ND: simple-salesforce#621, #681; restforce#353]); the grant is a
``FieldPermissions`` row (``PermissionsRead``, ``PermissionsEdit``) on a ``PermissionSet``
assigned to the user with ``PermissionSetAssignment``. Task and Event fields are granted
separately (``Task.X__c``, ``Event.X__c``) even when defined once on Activity.

The sandbox's profile grants every field that exists when the org is built ("seeded" fields),
except, with ``profile_grants_custom_fields=False``, the seeded custom (``__c``) fields, which
then need a FieldPermissions grant like a new field. Standard fields are always granted.
"""

from __future__ import annotations

import dataclasses

from .schema import ObjectDef
from .setup_rules import SETUP_OBJECTS


class FieldSecurity:
    def __init__(self, store, *, profile_grants_custom_fields: bool = True):
        self.store = store
        self.needs_grant: set[tuple[str, str]] = set()
        """(object, field) pairs the profile does not grant: visible only through a permission set."""
        if not profile_grants_custom_fields:
            self.needs_grant |= {(odef.name, fd.name) for odef in store.catalog.values()
                                 if odef.name not in SETUP_OBJECTS for fd in odef.fields.values() if fd.custom}

    def require_grant(self, obj: str, field: str) -> None:
        self.needs_grant.add((obj, field))

    def grants(self, user_id: str) -> dict[tuple[str, str], tuple[bool, bool]]:
        """(object, field) -> (read, edit) from the permission sets assigned to ``user_id``."""
        store = self.store
        with store.lock:
            assigned = {a["PermissionSetId"] for a in store.tables["PermissionSetAssignment"].values()
                        if not a["IsDeleted"] and a["AssigneeId"] == user_id}
            rows = [p for p in store.tables["FieldPermissions"].values()
                    if not p["IsDeleted"] and p["ParentId"] in assigned]
        out: dict[tuple[str, str], tuple[bool, bool]] = {}
        for row in rows:
            obj, _, field = row["Field"].partition(".")
            key = (obj.lower(), field.lower())
            read, edit = out.get(key, (False, False))
            out[key] = (read or row["PermissionsRead"], edit or row["PermissionsEdit"])
        return out

    def view(self, user_id: str) -> dict[str, ObjectDef]:
        """The catalog as ``user_id`` sees it (the catalog itself when nothing is restricted)."""
        catalog = self.store.catalog
        if not self.needs_grant:
            return catalog
        grants = self.grants(user_id)
        view = dict(catalog)
        for obj in {o for o, _ in self.needs_grant}:
            odef = catalog.get(obj)
            if odef is not None:
                view[obj] = self._restricted(odef, grants)
        return view

    def _restricted(self, odef: ObjectDef, grants: dict) -> ObjectDef:
        fields = {}
        for name, fd in odef.fields.items():
            if (odef.name, name) not in self.needs_grant:
                fields[name] = fd
                continue
            read, edit = grants.get((odef.name.lower(), name.lower()), (False, False))
            if read:
                fields[name] = fd if edit else dataclasses.replace(fd, createable=False, updateable=False)
        return dataclasses.replace(odef, fields=fields)
