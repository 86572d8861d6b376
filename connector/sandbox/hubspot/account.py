"""``/account-info/v3``: the portal's details and its daily API usage.

Shapes from the spec [SPEC HubSpot/HubSpot-public-api-spec-collection, PublicApiSpecs/Account/Account
Info/Rollouts/144923/v3/accountInfo.json]:

- ``GET /account-info/v3/details`` -> ``PortalInformationResponse``: portalId (int32), accountType
  (STANDARD | DEVELOPER_TEST | SANDBOX | APP_DEVELOPER), timeZone, companyCurrency,
  additionalCurrencies, utcOffset, utcOffsetMilliseconds, uiDomain, dataHostingLocation, all required;
- ``GET /account-info/v3/api-usage/daily/private-apps`` -> ``CollectionResponseApiUsage``:
  ``results[{name, usageLimit, currentUsage, collectedAt, fetchStatus, resetsAt}]``; the spec's example
  names the limit "private-apps-api-calls-daily".

The portal id is a sandbox setting (``HubSpotSandbox(portal_id=...)``) so a test can run two
portals side by side. The usage counts every call the rate limiter admitted since the sandbox started (no reset at
midnight: a test run is shorter than a day); with no daily limit
set, ``usageLimit`` reports the smallest documented daily allowance, 250,000
[DOC https://developers.hubspot.com/changelog/increasing-our-api-limits] (not enforced).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from connector.sandbox.hubspot import timefmt

DEFAULT_PORTAL_ID = 23_456_789
SMALLEST_DAILY_LIMIT = 250_000


@dataclass(frozen=True, kw_only=True)
class PortalInfo:
    portal_id: int = DEFAULT_PORTAL_ID
    account_type: str = "STANDARD"
    time_zone: str = "UTC"
    company_currency: str = "USD"
    ui_domain: str = "app.hubspot.com"
    data_hosting_location: str = "na1"

    def __post_init__(self) -> None:
        if isinstance(self.portal_id, bool) or not isinstance(self.portal_id, int) or not 0 < self.portal_id < 2**31:
            raise ValueError(f"portal_id must be a positive 32-bit integer (HubSpot's portalId is int32), "
                             f"got {self.portal_id!r}")

    def details(self) -> dict:
        offset = zoneinfo.ZoneInfo(self.time_zone).utcoffset(dt.datetime.now(dt.UTC))
        minutes = int(offset.total_seconds() // 60)
        sign = "-" if minutes < 0 else "+"
        return {"portalId": self.portal_id, "accountType": self.account_type, "timeZone": self.time_zone,
                "companyCurrency": self.company_currency, "additionalCurrencies": [],
                "utcOffset": f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}",
                "utcOffsetMilliseconds": minutes * 60_000, "uiDomain": self.ui_domain,
                "dataHostingLocation": self.data_hosting_location}


def daily_usage(used: int, limit: int | None) -> dict:
    now = dt.datetime.now(dt.UTC)
    midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(0), dt.UTC)
    return {"results": [{
        "name": "private-apps-api-calls-daily", "usageLimit": limit if limit is not None else SMALLEST_DAILY_LIMIT,
        "currentUsage": used, "fetchStatus": "SUCCESS",
        "collectedAt": timefmt.iso_from_ms(timefmt.now_ms()),
        "resetsAt": timefmt.iso_from_ms(timefmt.ms_from_datetime(midnight)),
    }]}
