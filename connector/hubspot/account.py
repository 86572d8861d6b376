"""Which portal the credentials reach: ``GET /account-info/v3/details`` -> ``portalId``.

[DOC https://developers.hubspot.com/docs/api-reference/latest/account/account-information/guide]
(scope ``oauth``, which every app has); the reply's shape is ``PortalInformationResponse``
[SPEC HubSpot/HubSpot-public-api-spec-collection,
PublicApiSpecs/Account/Account Info/Rollouts/144923/v3/accountInfo.json], ``portalId`` an int32.
hubspot-api-client 12 has no API object for /account-info, so the call goes through
``HubSpotClient.get`` (same budget, retries and counting as every other call).
"""

from __future__ import annotations

from connector.errors import FatalCrmError
from connector.hubspot.client import HubSpotClient

LABEL = "GET /account-info/v3/details"


def portal_id(client: HubSpotClient) -> str:
    reply = client.get(LABEL, "/account-info/v3/details")
    value = getattr(reply, "portal_id", None)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise FatalCrmError(f"{LABEL} answered without a usable portalId ({value!r})", provider="hubspot",
                            endpoint=LABEL)
    return str(value)
