"""Which org the credentials reach: its 18-character organization id.

Read from the identity URL (``https://<host>/id/<orgId>/<userId>``) that the REST API's
Resources by Version answer carries under ``identity`` (``GET /services/data/vXX.X/``)
[DOC https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/dome_discoveryresource.htm].
One GET that every flow can make, the direct access token included: the login replies also name
the org, but simple-salesforce's login helpers drop everything but the session id and the instance.
"""

from __future__ import annotations

from connector.errors import FatalCrmError
from connector.salesforce.client import SalesforceClient
from connector.salesforce.ids import to_18

LABEL = "resources"


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

