"""Who the caller is: the org's settings, the identity URL (``/id/{orgId}/{userId}``) and the
user facts that SOAP ``login()`` returns as ``userInfo``.

Identity URL [DOC: https://developer.salesforce.com/docs/platform/mobile-sdk/guide/oauth-using-identity-urls.html]
[DOC: https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_using_openid.htm]:
- the token endpoint hands it out as ``id``; a GET with the access token (``Authorization: Bearer``
  or ``?oauth_token=``/``?access_token=``) answers JSON about the user and the org, with ``urls``
  whose ``{version}`` is filled in only when ``?version=NN.0`` or ``latest`` is given;
- a token the identity service does not accept is **403** (plain text ``Bad_OAuth_Token``), not the
  REST API's 401, so clients that refresh only on 401 do not refresh here
  [2ND: github.com/jsforce/jsforce/pull/736 "this endpoint returns a 403"]; no token: 403
  ``Missing_OAuth_Token``; another org's id: 403 ``Wrong_Org``; an unknown user: 404 ``Bad_Id``
  [2ND: github.com/mike4aday/SwiftlySalesforce/issues/120 (404 "Bad_Id")].
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from .ids import KEY_PREFIXES, make_id
from .values import to_json

SESSION_SECONDS = 7200
"""A session lasts two hours unless the org sets otherwise (the SOAP quick start says so)."""


@dataclass(frozen=True, kw_only=True)
class OrgSettings:
    org_id: str
    name: str
    profile_id: str = make_id(KEY_PREFIXES["Profile"], 1)
    sandbox: bool = True
    currency: str = "USD"

    @property
    def id15(self) -> str:
        return self.org_id[:15]


class IdentityError(Exception):
    def __init__(self, status: int, code: str):
        super().__init__(code)
        self.status, self.code = status, code


def identity_url(base_url: str, org: OrgSettings, user_id: str) -> str:
    return f"{base_url}/id/{org.org_id}/{user_id}"


def _urls(base_url: str, org: OrgSettings, user_id: str, version: str) -> dict:
    soap = f"{base_url}/services/Soap"
    rest = f"{base_url}/services/data/v{version}"
    return {
        "enterprise": f"{soap}/c/{version}/{org.id15}", "metadata": f"{soap}/m/{version}/{org.id15}",
        "partner": f"{soap}/u/{version}/{org.id15}", "rest": f"{rest}/", "sobjects": f"{rest}/sobjects/",
        "search": f"{rest}/search/", "query": f"{rest}/query/", "recent": f"{rest}/recent/",
        "tooling_soap": f"{soap}/T/{version}/{org.id15}", "tooling_rest": f"{rest}/tooling/",
        "profile": f"{base_url}/{user_id}", "feeds": f"{rest}/chatter/feeds",
        "groups": f"{rest}/chatter/groups", "users": f"{rest}/chatter/users",
        "feed_items": f"{rest}/chatter/feed-items", "feed_elements": f"{rest}/chatter/feed-elements",
        "custom_domain": base_url,
    }


def identity_body(base_url: str, org: OrgSettings, user: dict, version: str | None, now: dt.datetime) -> dict:
    """The identity service's JSON for ``user`` (a User record); ``utcOffset`` is the user's time
    zone offset at ``now``, in milliseconds."""
    user_id = user["Id"]
    offset = now.astimezone(ZoneInfo(user["TimeZoneSidKey"])).utcoffset()
    return {
        "id": identity_url(base_url, org, user_id), "asserted_user": True, "user_id": user_id,
        "organization_id": org.org_id, "username": user["Username"], "nick_name": user["Username"].split("@")[0],
        "display_name": user["Name"], "email": user["Email"], "email_verified": True,
        "first_name": user.get("FirstName"), "last_name": user["LastName"], "timezone": user["TimeZoneSidKey"],
        "photos": {"picture": f"{base_url}/profilephoto/005/F", "thumbnail": f"{base_url}/profilephoto/005/T"},
        "addr_street": None, "addr_city": None, "addr_state": None, "addr_country": None, "addr_zip": None,
        "mobile_phone": None, "mobile_phone_verified": False, "is_lightning_login_user": False,
        "status": {"created_date": None, "body": None},
        "urls": _urls(base_url, org, user_id, version or "{version}"),
        "active": user["IsActive"], "user_type": "STANDARD", "language": user["LanguageLocaleKey"],
        "locale": user["LocaleSidKey"], "utcOffset": int(offset.total_seconds() * 1000),
        "last_modified_date": to_json(user["LastModifiedDate"]),
        "is_app_installed": True,
    }


def check_identity_request(org: OrgSettings, org_id: str, user: dict | None, token_user_id: str | None,
                           token_given: bool) -> None:
    """Raise IdentityError in the identity service's order: token, org, user."""
    if not token_given:
        raise IdentityError(403, "Missing_OAuth_Token")
    if token_user_id is None:
        raise IdentityError(403, "Bad_OAuth_Token")
    if org_id[:15] != org.id15:
        raise IdentityError(403, "Wrong_Org")
    if user is None:
        raise IdentityError(404, "Bad_Id")


def user_info(org: OrgSettings, user: dict) -> dict[str, object]:
    """SOAP ``GetUserInfoResult`` fields, in the WSDL's order
    [DOC: https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_getuserinfo_getuserinforesult.htm]."""
    return {
        "accessibilityMode": False, "chatterExternal": False, "currencySymbol": "$",
        "orgAttachmentFileSizeLimit": 5242880, "orgDefaultCurrencyIsoCode": org.currency,
        "orgDefaultCurrencyLocale": "en_US", "orgDisallowHtmlAttachments": False, "orgHasPersonAccounts": False,
        "organizationId": org.org_id, "organizationMultiCurrency": False, "organizationName": org.name,
        "profileId": org.profile_id, "roleId": None, "sessionSecondsValid": SESSION_SECONDS,
        "userDefaultCurrencyIsoCode": None, "userEmail": user["Email"], "userFullName": user["Name"],
        "userId": user["Id"], "userLanguage": user["LanguageLocaleKey"], "userLocale": user["LocaleSidKey"],
        "userName": user["Username"], "userTimeZone": user["TimeZoneSidKey"], "userType": "Standard",
        "userUiSkin": "Theme3",
    }
