"""Which org the credentials reach: its 18-character organization id.

Read from the identity URL (``https://<host>/id/<orgId>/<userId>``) that the REST API's
Resources by Version answer carries under ``identity`` (``GET /services/data/vXX.X/``)
[DOC https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/dome_discoveryresource.htm].
One GET that every flow can make, the direct access token included: the login replies also name
the org, but simple-salesforce's login helpers drop everything but the session id and the instance.
"""

from __future__ import annotations

import string

from connector.errors import FatalCrmError
from connector.salesforce.client import SalesforceClient

LABEL = "resources"
_SUFFIX = string.ascii_uppercase + "012345"


def org_id(client: SalesforceClient) -> str:
    return _identity_part(client, -2, "00D", "organization")


def user_id(client: SalesforceClient) -> str:
    """The integration user's 18-character id: the identity URL's last part."""
    return _identity_part(client, -1, "005", "user")


def _identity_part(client: SalesforceClient, index: int, prefix: str, what: str) -> str:
    resources = client.restful(LABEL, "")
    identity = resources.get("identity") if isinstance(resources, dict) else None
    parts = identity.rstrip("/").split("/") if isinstance(identity, str) else []
    found = parts[index] if len(parts) >= 3 and parts[-3] == "id" else ""
    if not (found.startswith(prefix) and len(found) in (15, 18) and found.isalnum()):
        raise FatalCrmError(f"the REST resources answer names no {what} id (identity {identity!r})",
                            provider="salesforce", endpoint=LABEL)
    return to_18(found)


def to_18(record_id: str) -> str:
    """The case-insensitive 18-character form of a 15- or 18-character Salesforce id."""
    id15 = record_id[:15]
    suffix = ""
    for chunk in (id15[0:5], id15[5:10], id15[10:15]):
        suffix += _SUFFIX[sum(1 << i for i, ch in enumerate(chunk) if ch in string.ascii_uppercase)]
    return id15 + suffix
