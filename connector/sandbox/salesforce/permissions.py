"""The integration user's system permissions that the sandbox checks.

- Customize Application: needed to create custom fields (Tooling API ``CustomField``) (facts §7
  [DOC: https://developer.salesforce.com/docs/atlas.en-us.234.0.api_meta.meta/api_meta/meta_modify_metadata_perm.htm]).
  Without it the Tooling API answers 403 INSUFFICIENT_ACCESS (the REST guide: 403 "the request has
  been refused, verify that the logged-in user has appropriate permissions"; INSUFFICIENT_ACCESS is
  the code Salesforce gives for a missing user permission, e.g. login() without "Use Any API
  Auth" [DOC: https://developer.salesforce.com/docs/platform/api/guide/sforce-api-calls-login.html];
  the exact code for the Tooling API is unverified [STRICT]).
- View Setup and Configuration: needed to read setup metadata; a user without it cannot query
  Tooling objects, which answer as unknown types (INVALID_TYPE) [2ND: github.com/afawcett/apex-toolingapi/issues/19
  "sObject type 'CustomEntityDefinition' is not supported" for a non-admin]. Customize Application
  includes it.
- Manage Profiles and Permission Sets / Assign Permission Sets: needed to write PermissionSet and
  FieldPermissions rows / PermissionSetAssignment rows; without them a write is refused with
  INSUFFICIENT_ACCESS_OR_READONLY ("insufficient access rights on cross-reference id") [STRICT].
Defaults: all granted (an admin-like integration user), so existing tests keep working.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import RecordError


@dataclass(kw_only=True)
class UserPermissions:
    customize_application: bool = True
    view_setup: bool = True
    manage_permission_sets: bool = True
    assign_permission_sets: bool = True

    @property
    def can_view_setup(self) -> bool:
        return self.view_setup or self.customize_application


def setup_write_error(permissions: UserPermissions, obj: str) -> RecordError | None:
    """Why the user may not write ``obj`` (a permission object), or None."""
    needed = {"PermissionSet": permissions.manage_permission_sets,
              "FieldPermissions": permissions.manage_permission_sets,
              "PermissionSetAssignment": permissions.assign_permission_sets}.get(obj, True)
    if needed:
        return None
    return RecordError("INSUFFICIENT_ACCESS_OR_READONLY", "insufficient access rights on cross-reference id")


def check_setup_write(permissions: UserPermissions, obj: str) -> None:
    error = setup_write_error(permissions, obj)
    if error is not None:
        raise error.as_api_error()
