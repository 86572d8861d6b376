"""``afterclose setup --write-package DIR``: the same set-up as setup_org.py, written as a
deployable metadata package in SFDX source format for an admin to review and deploy, when the
integration user may not change the org's metadata itself. Nothing is written to the org.

Layout (source format [DOC: https://developer.salesforce.com/docs/atlas.en-us.sfdx_dev.meta/sfdx_dev/sfdx_dev_source_file_format.htm]):

    DIR/sfdx-project.json                       the project `sf project deploy start` runs in
    DIR/package.xml                             the manifest: CustomField and PermissionSet members
    DIR/force-app/main/default/objects/<Object>/fields/<Field>.field-meta.xml
    DIR/force-app/main/default/permissionsets/AfterClose_Integration.permissionset-meta.xml
    DIR/README.txt                              the two commands below

Deploy: ``cd DIR && sf project deploy start --source-dir force-app --target-org <alias>``: the
command deploys source format by default and "must be run from within a project"
[DOC: https://developer.salesforce.com/docs/platform/salesforce-cli-reference/guide/cli_reference_project_deploy_start.md];
``--metadata-dir`` is for the other (Metadata API) format. A permission set assignment is data,
not metadata, so it cannot travel in the package: ``sf org assign permset --name
AfterClose_Integration --on-behalf-of <username>``
[DOC: https://developer.salesforce.com/docs/platform/salesforce-cli-reference/guide/cli_reference_org_commands_unified.htm].

Element names: CustomField (fullName, label, type, length, precision, scale, externalId, unique,
caseSensitive, valueSet, visibleLines, defaultValue), PermissionSet (label, description,
fieldPermissions{editable, field, readable}), Package (types{members, name}, version)
[DOC: https://developer.salesforce.com/docs/atlas.en-us.api_meta.meta/api_meta/customfield.htm]
[DOC: https://developer.salesforce.com/docs/atlas.en-us.api_meta.meta/api_meta/meta_permissionset.htm]
[DOC: https://developer.salesforce.com/docs/atlas.en-us.api_meta.meta/api_meta/manifest_samples.htm].
Children are written in the order Salesforce writes them on retrieve (fullName first, then by
name), so a diff against a retrieved org reads clean.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET

from connector.salesforce import setup_design as design

NAMESPACE = "http://soap.sforce.com/2006/04/metadata"
SOURCE_DIR = "force-app"
DEFAULT_DIR = Path(SOURCE_DIR, "main", "default")


@dataclass(frozen=True, kw_only=True, slots=True)
class Package:
    root: Path
    fields: tuple[design.FieldDesign, ...]
    grants: tuple[design.FieldGrant, ...]
    api_version: str

    def deploy_command(self, target_org: str = "<your-org-alias>", *, where: str | None = None) -> str:
        folder = where or shlex.quote(str(self.root))
        return f"cd {folder} && sf project deploy start --source-dir {SOURCE_DIR} --target-org {target_org}"

    def assign_command(self, username: str, target_org: str = "<your-org-alias>") -> str:
        return (f"sf org assign permset --name {design.PERMISSION_SET_NAME} --on-behalf-of {username} "
                f"--target-org {target_org}")


def _xml(tag: str, children: Sequence[tuple[str, object]]) -> ET.Element:
    root = ET.Element(tag, xmlns=NAMESPACE)
    _fill(root, children)
    return root


def _fill(parent: ET.Element, children: Sequence[tuple[str, object]]) -> None:
    for name, value in children:
        child = ET.SubElement(parent, name)
        if isinstance(value, list):
            _fill(child, value)
        elif isinstance(value, bool):
            child.text = "true" if value else "false"
        else:
            child.text = str(value)


def _ordered(fields: Mapping[str, object], first: str | None = None) -> list[tuple[str, object]]:
    """Elements in retrieve order: ``first`` (fullName), then by name."""
    rest = sorted((k, v) for k, v in fields.items() if k != first and v is not None)
    return ([(first, fields[first])] if first else []) + rest


def custom_field_elements(item: design.FieldDesign) -> list[tuple[str, object]]:
    metadata = dict(item.metadata)
    value_set = metadata.pop("valueSet", None)
    elements = _ordered({"fullName": item.name, **metadata}, first="fullName")
    if isinstance(value_set, Mapping):
        definition = value_set["valueSetDefinition"]
        values: list[tuple[str, object]] = [("sorted", definition["sorted"])]
        values += [("value", _ordered(v, first="fullName")) for v in definition["value"]]
        elements.append(("valueSet", [("restricted", value_set["restricted"]), ("valueSetDefinition", values)]))
        elements.sort(key=lambda e: (e[0] != "fullName", e[0]))
    return elements


def permission_set_elements(grants: Sequence[design.FieldGrant]) -> list[tuple[str, object]]:
    rows: list[tuple[str, object]] = [
        ("fieldPermissions", [("editable", g.edit), ("field", g.field), ("readable", True)])
        for g in sorted(grants, key=lambda g: g.field)]
    return [("description", design.PERMISSION_SET_DESCRIPTION), *rows, ("label", design.PERMISSION_SET_LABEL)]


def package_elements(fields: Sequence[design.FieldDesign], api_version: str) -> list[tuple[str, object]]:
    types: list[tuple[str, object]] = []
    if fields:
        members: list[tuple[str, object]] = [("members", name) for name in sorted(f.full_name for f in fields)]
        types.append(("types", [*members, ("name", "CustomField")]))
    types.append(("types", [("members", design.PERMISSION_SET_NAME), ("name", "PermissionSet")]))
    return [*types, ("version", api_version)]


def _write_xml(path: Path, element: ET.Element) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.indent(element, space="    ")
    body = ET.tostring(element, encoding="unicode")
    path.write_text(f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n', encoding="utf-8")


def write(root: Path, fields: Sequence[design.FieldDesign], grants: Sequence[design.FieldGrant],
          api_version: str, username: str) -> Package:
    """Write the package under ``root`` (created if missing; AfterClose's files are replaced,
    nothing else is touched)."""
    package = Package(root=root, fields=tuple(fields), grants=tuple(grants), api_version=api_version)
    base = root / DEFAULT_DIR
    for item in fields:
        _write_xml(base / "objects" / item.table / "fields" / f"{item.name}.field-meta.xml",
                   _xml("CustomField", custom_field_elements(item)))
    _write_xml(base / "permissionsets" / f"{design.PERMISSION_SET_NAME}.permissionset-meta.xml",
               _xml("PermissionSet", permission_set_elements(grants)))
    _write_xml(root / "package.xml", _xml("Package", package_elements(fields, api_version)))
    project = {"packageDirectories": [{"path": SOURCE_DIR, "default": True}], "name": "afterclose-setup",
               "namespace": "", "sourceApiVersion": api_version}
    (root / "sfdx-project.json").write_text(json.dumps(project, indent=2) + "\n", encoding="utf-8")
    (root / "README.txt").write_text(
        "AfterClose set-up for Salesforce: AfterClose's own custom fields and the permission set\n"
        f"{design.PERMISSION_SET_NAME} (field access for every field AfterClose reads or writes).\n\n"
        "Deploy (Salesforce CLI, logged in to the org as an admin):\n"
        f"  {package.deploy_command(where='<this directory>')}\n"
        "Then assign the permission set to AfterClose's integration user:\n"
        f"  {package.assign_command(username)}\n"
        "Then run `afterclose setup` (or `afterclose check`) again: it says what is still missing.\n",
        encoding="utf-8")
    return package
