"""Setup objects an integration uses to grant itself access: ``PermissionSet``, ``FieldPermissions``
(field-level security rows) and ``PermissionSetAssignment``, served through the normal REST and
collections routes (facts §7).

[DOC: https://developer.salesforce.com/docs/atlas.en-us.252.0.object_reference.meta/object_reference/sforce_api_objects_fieldpermissions.htm]
[DOC: object reference, PermissionSet and PermissionSetAssignment]
- FieldPermissions: ``ParentId`` (the permission set), ``SobjectType``, ``Field`` ("Account.X__c"),
  ``PermissionsRead``, ``PermissionsEdit``; the parent and names cannot change after create.
- PermissionSetAssignment: ``AssigneeId`` (a user) and ``PermissionSetId``; it can be created and
  deleted, not updated.
The write rules (a field that exists, edit needs read, no duplicate rows) live in setup_rules.py.
"""

from __future__ import annotations

from collections.abc import Callable


def setup_objects(make_object: Callable, make_field: Callable, make_ref: Callable, child: type) -> list:
    permission_set = make_object("PermissionSet", "Permission Set", "Permission Sets", [
        make_field("Name", "string", length=80, nillable=False),
        make_field("Label", "string", length=80, nillable=False),
        make_field("Description", "string", length=255),
        make_field("IsOwnedByProfile", "boolean", nillable=False, createable=False, updateable=False),
        make_field("IsCustom", "boolean", nillable=False, createable=False, updateable=False),
        make_field("NamespacePrefix", "string", length=15, createable=False, updateable=False),
    ], children=[])
    field_permissions = make_object("FieldPermissions", "Field Permissions", "Field Permissions", [
        make_ref("ParentId", ("PermissionSet",), "Parent", nillable=False, updateable=False),
        make_field("SobjectType", "picklist", length=40, nillable=False, updateable=False),
        make_field("Field", "picklist", length=80, nillable=False, updateable=False),
        make_field("PermissionsRead", "boolean", nillable=False),
        make_field("PermissionsEdit", "boolean", nillable=False),
    ])
    assignment = make_object("PermissionSetAssignment", "Permission Set Assignment",
                             "Permission Set Assignments", [
        make_ref("AssigneeId", ("User",), "Assignee", nillable=False, updateable=False),
        make_ref("PermissionSetId", ("PermissionSet",), "PermissionSet", nillable=False, updateable=False),
    ], updateable=False)
    permission_set.children.extend([
        child(child_sobject="FieldPermissions", field="ParentId", relationship_name="FieldPerms",
                          cascade_delete=True),
        child(child_sobject="PermissionSetAssignment", field="PermissionSetId",
                          relationship_name="Assignments", cascade_delete=True),
    ])
    return [permission_set, field_permissions, assignment]
