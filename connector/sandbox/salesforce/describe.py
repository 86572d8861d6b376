"""``GET /sobjects`` (describeGlobal) and ``GET /sobjects/{Obj}/describe`` bodies.

Keys follow the DescribeSObjectResult / Field shapes (facts §4, jsforce types 2ND): name, label,
type, length, nillable, createable, updateable, custom, externalId, unique, picklistValues
[{value, label, active, defaultValue}], referenceTo, relationshipName, permissionable; childRelationships
[{childSObject, field, relationshipName, cascadeDelete}].
"""

from __future__ import annotations

from .schema import FieldDef, ObjectDef
from .setup_rules import field_permissionable

_SOAP_TYPES = {"id": "tns:ID", "reference": "tns:ID", "boolean": "xsd:boolean", "date": "xsd:date",
               "datetime": "xsd:dateTime", "double": "xsd:double", "currency": "xsd:double",
               "percent": "xsd:double"}


def _urls(version: str, name: str) -> dict:
    base = f"/services/data/v{version}/sobjects/{name}"
    return {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"}


def describe_field(fd: FieldDef, odef: ObjectDef | None = None) -> dict:
    """``odef``: the field's object, for ``permissionable`` (whether a FieldPermissions row may name
    it: setup_rules.py)."""
    picklist = [{"value": v, "label": v, "active": True, "defaultValue": v == fd.default, "validFor": None}
                for v in fd.picklist]
    return {
        "name": fd.name, "label": fd.label, "type": fd.type, "length": fd.length,
        "byteLength": fd.length * 3,
        "precision": fd.precision or (18 if fd.type in ("double", "currency") else 0),
        "scale": fd.scale if fd.precision else (2 if fd.type in ("double", "currency") else 0), "digits": 0,
        "nillable": fd.nillable, "createable": fd.createable, "updateable": fd.updateable,
        "custom": fd.custom, "externalId": fd.external_id, "unique": fd.unique, "caseSensitive": fd.case_sensitive,
        "idLookup": fd.name == "Id" or fd.external_id, "nameField": fd.name == "Name",
        "calculated": fd.calculated, "defaultedOnCreate": fd.default is not None or fd.type == "boolean",
        "defaultValue": fd.default if fd.type == "picklist" else None,
        "filterable": fd.filterable, "sortable": fd.sortable, "groupable": fd.sortable,
        "picklistValues": picklist, "restrictedPicklist": fd.restricted,
        "referenceTo": list(fd.reference_to), "relationshipName": fd.relationship_name,
        "soapType": _SOAP_TYPES.get(fd.type, "xsd:string"), "deprecatedAndHidden": False,
        "permissionable": odef is not None and field_permissionable(odef, fd),
    }


def describe_object(odef: ObjectDef, version: str) -> dict:
    return {
        "name": odef.name, "label": odef.label, "labelPlural": odef.label_plural, "keyPrefix": odef.key_prefix,
        "custom": odef.custom, "createable": odef.createable, "updateable": odef.updateable,
        "deletable": odef.deletable, "queryable": True, "retrieveable": True, "searchable": True,
        "undeletable": odef.deletable, "fields": [describe_field(f, odef) for f in odef.fields.values()],
        "childRelationships": [
            {"childSObject": c.child_sobject, "field": c.field, "relationshipName": c.relationship_name,
             "cascadeDelete": c.cascade_delete, "restrictedDelete": False, "deprecatedAndHidden": False}
            for c in odef.children],
        "urls": _urls(version, odef.name),
    }


def describe_global(catalog: dict[str, ObjectDef], version: str) -> dict:
    return {"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": [
        {"name": o.name, "label": o.label, "labelPlural": o.label_plural, "keyPrefix": o.key_prefix,
         "custom": o.custom, "createable": o.createable, "updateable": o.updateable, "deletable": o.deletable,
         "queryable": True, "urls": _urls(version, o.name)} for o in catalog.values()]}


def basic_info(odef: ObjectDef, version: str) -> dict:
    return {"objectDescribe": {k: v for k, v in describe_object(odef, version).items()
                               if k not in ("fields", "childRelationships")}, "recentItems": []}
