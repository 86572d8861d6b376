"""Who the caller is and which org it talks to: SOAP login's userInfo, the identity URL, org and
user ids as settings, API versions, token revocation and SOAP logout.

Sources (docs/salesforce-api-notes.md, "Org, identity and versions"): LoginResult and
GetUserInfoResult (SOAP API guide); Identity URLs (help / Mobile SDK guide); jsforce PR #736 (403 on
the identity URL); Versions resource and end-of-life table; OAuth revoke (Mobile SDK guide).
"""

from __future__ import annotations

import re

import pytest
import simple_salesforce
from simple_salesforce.exceptions import SalesforceExpiredSession

from connector.sandbox.salesforce import INTEGRATION_USERNAME, SalesforceSandbox, sdk_login_domain, sdk_session
from connector.sandbox.salesforce.ids import make_id

PASSWORD = "sandbox-passwordsandboxsecuritytoken"
SOAP_LOGIN = ('<se:Envelope xmlns:se="http://schemas.xmlsoap.org/soap/envelope/"><se:Body>'
              '<login xmlns="urn:partner.soap.sforce.com"><username>{u}</username><password>{p}</password>'
              '</login></se:Body></se:Envelope>')
SOAP_LOGOUT = ('<se:Envelope xmlns:se="http://schemas.xmlsoap.org/soap/envelope/"><se:Header>'
               '<SessionHeader xmlns="urn:partner.soap.sforce.com"><sessionId>{s}</sessionId></SessionHeader>'
               '</se:Header><se:Body><logout xmlns="urn:partner.soap.sforce.com"/></se:Body></se:Envelope>')


def _http(org):
    return sdk_session(org.endpoint.ca_path)


def _soap(org, body: str, version: str = "59.0"):
    return _http(org).post(f"{org.endpoint.base_url}/services/Soap/u/{version}", data=body.encode(),
                           headers={"Content-Type": "text/xml", "SOAPAction": '""'})


def _tag(xml: str, name: str) -> str | None:
    match = re.search(rf"<{name}>([^<]*)</{name}>", xml)
    return match.group(1) if match else None


def test_given_soap_login_then_user_info_names_org_user_and_session_length(sf_org):
    response = _soap(sf_org, SOAP_LOGIN.format(u=INTEGRATION_USERNAME, p=PASSWORD))
    assert response.status_code == 200
    xml = response.text
    sb = sf_org.sandbox
    assert _tag(xml, "organizationId") == sb.org_id and sb.org_id.startswith("00D") and len(sb.org_id) == 18
    assert _tag(xml, "userId") == sb.user_id and sb.user_id.startswith("005")
    assert _tag(xml, "userName") == INTEGRATION_USERNAME and _tag(xml, "userEmail") == INTEGRATION_USERNAME
    assert _tag(xml, "userFullName") == "Integration User"
    assert _tag(xml, "organizationName") == "AfterClose Sandbox"
    assert _tag(xml, "profileId").startswith("00e") and _tag(xml, "sessionSecondsValid") == "7200"
    assert _tag(xml, "userTimeZone") == "America/Los_Angeles"
    assert _tag(xml, "serverUrl").endswith(f"/services/Soap/u/59.0/{sb.org_id[:15]}")


def test_given_two_orgs_with_different_ids_then_each_login_and_identity_names_its_own(sf_org_factory):
    other_org, other_user = make_id("00D", 42), make_id("005", 77)
    first = sf_org_factory(demo=False)
    second = sf_org_factory(demo=False, org_id=other_org[:15], user_id=other_user)
    assert first.sandbox.org_id != second.sandbox.org_id
    assert second.sandbox.org_id == other_org and second.sandbox.user_id == other_user
    xml = _soap(second, SOAP_LOGIN.format(u=INTEGRATION_USERNAME, p=PASSWORD)).text
    assert (_tag(xml, "organizationId"), _tag(xml, "userId")) == (other_org, other_user)
    ids = second.sf.query("SELECT Id FROM User")["records"]
    assert [r["Id"] for r in ids] == [other_user]


@pytest.mark.parametrize("setting, value", [("org_id", "001000000000001"), ("user_id", "005-bad"),
                                             ("org_id", make_id("005", 1))])
def test_given_malformed_org_or_user_id_setting_then_value_error_names_the_setting(setting, value):
    with pytest.raises(ValueError, match=setting):
        SalesforceSandbox(**{setting: value})


def test_given_oauth_token_then_identity_url_is_served_with_user_and_org(sf_org):
    app = sf_org.sandbox.connected_app
    reply = _http(sf_org).post(f"{sf_org.endpoint.base_url}/services/oauth2/token", data={
        "grant_type": "password", "client_id": app.client_id, "client_secret": app.client_secret,
        "username": INTEGRATION_USERNAME, "password": PASSWORD}).json()
    assert reply["id"] == f"{sf_org.endpoint.base_url}/id/{sf_org.sandbox.org_id}/{sf_org.sandbox.user_id}"
    identity = _http(sf_org).get(reply["id"], params={"version": "latest"},
                                 headers={"Authorization": f"Bearer {reply['access_token']}"})
    assert identity.status_code == 200
    body = identity.json()
    assert (body["user_id"], body["organization_id"], body["username"]) == (
        sf_org.sandbox.user_id, sf_org.sandbox.org_id, INTEGRATION_USERNAME)
    assert body["urls"]["rest"].endswith("/services/data/v68.0/")
    assert body["timezone"] == "America/Los_Angeles" and body["utcOffset"] in (-28800000, -25200000)
    plain = _http(sf_org).get(reply["id"], params={"format": "json", "oauth_token": reply["access_token"]}).json()
    assert "{version}" in plain["urls"]["sobjects"]


def test_given_bad_missing_or_foreign_token_then_identity_answers_403_or_404_in_plain_text(sf_org):
    sb, base = sf_org.sandbox, sf_org.endpoint.base_url
    url = f"{base}/id/{sb.org_id}/{sb.user_id}"
    bearer = {"Authorization": f"Bearer {sf_org.endpoint.token}"}
    missing = _http(sf_org).get(url)
    bad = _http(sf_org).get(url, headers={"Authorization": "Bearer nope"})
    wrong_org = _http(sf_org).get(f"{base}/id/{make_id('00D', 9)}/{sb.user_id}", headers=bearer)
    unknown_user = _http(sf_org).get(f"{base}/id/{sb.org_id}/{make_id('005', 999)}", headers=bearer)
    assert [(r.status_code, r.text) for r in (missing, bad, wrong_org, unknown_user)] == [
        (403, "Missing_OAuth_Token"), (403, "Bad_OAuth_Token"), (403, "Wrong_Org"), (404, "Bad_Id")]


def test_given_version_root_then_resources_list_identity_and_tooling(sf_org):
    resources = sf_org.sf.restful("")
    assert resources["identity"] == f"{sf_org.endpoint.base_url}/id/{sf_org.sandbox.org_id}/{sf_org.sandbox.user_id}"
    assert resources["tooling"] == "/services/data/v59.0/tooling"


def test_given_versions_resource_then_lists_31_up_to_current_release_with_labels(sf_org):
    listing = _http(sf_org).get(f"{sf_org.endpoint.base_url}/services/data/").json()
    assert listing[0] == {"label": "Summer '14", "url": "/services/data/v31.0", "version": "31.0"}
    assert listing[-1] == {"label": "Winter '27", "url": "/services/data/v68.0", "version": "68.0"}
    labels = {v["version"]: v["label"] for v in listing}
    assert (labels["62.0"], labels["66.0"]) == ("Winter '25", "Spring '26")


@pytest.mark.parametrize("path, status", [("v30.0/limits", 404), ("v68.0/limits", 200), ("latest/limits", 200),
                                          ("v59/limits", 404), ("59.0/limits", 404)])
def test_given_retired_current_or_malformed_version_then_served_or_404(sf_org, path, status):
    response = _http(sf_org).get(f"{sf_org.endpoint.base_url}/services/data/{path}",
                                 headers={"Authorization": f"Bearer {sf_org.endpoint.token}"})
    assert response.status_code == status


def test_given_revoked_token_then_rest_calls_get_401_and_revoking_again_is_invalid_token(sf_org):
    revoke = f"{sf_org.endpoint.base_url}/services/oauth2/revoke"
    assert _http(sf_org).post(revoke, data={"token": sf_org.endpoint.token}).status_code == 200
    with pytest.raises(SalesforceExpiredSession):
        sf_org.sf.query("SELECT Id FROM User")
    again = _http(sf_org).post(revoke, data={"token": sf_org.endpoint.token})
    assert again.status_code == 400 and again.json()["error"] == "invalid_token"


def test_given_soap_logout_then_session_ends_and_second_logout_is_a_fault(sf_org):
    session_id = _tag(_soap(sf_org, SOAP_LOGIN.format(u=INTEGRATION_USERNAME, p=PASSWORD)).text, "sessionId")
    client = simple_salesforce.Salesforce(instance_url=sf_org.endpoint.base_url, session_id=session_id,
                                          session=sdk_session(sf_org.endpoint.ca_path))
    assert client.query("SELECT COUNT() FROM User")["totalSize"] >= 1
    logout = _soap(sf_org, SOAP_LOGOUT.format(s=session_id))
    assert logout.status_code == 200 and "logoutResponse" in logout.text
    with pytest.raises(SalesforceExpiredSession):
        client.query("SELECT COUNT() FROM User")
    again = _soap(sf_org, SOAP_LOGOUT.format(s=session_id))
    assert again.status_code == 500 and "<faultcode>sf:INVALID_SESSION_ID</faultcode>" in again.text


@pytest.mark.parametrize("version, code", [("65.0", "INVALID_OPERATION"), ("30.0", "UNSUPPORTED_API_VERSION")])
def test_given_soap_login_at_65_or_a_retired_version_then_fault(sf_org, version, code):
    response = _soap(sf_org, SOAP_LOGIN.format(u=INTEGRATION_USERNAME, p=PASSWORD), version=version)
    assert response.status_code == 500 and f"<sf:exceptionCode>{code}</sf:exceptionCode>" in response.text


def test_given_org_with_soap_login_disabled_then_sdk_soap_login_fails_and_oauth_works(sf_org_factory):
    from simple_salesforce.exceptions import SalesforceAuthenticationFailed

    org = sf_org_factory(demo=False, soap_login_enabled=False)
    with pytest.raises(SalesforceAuthenticationFailed) as err:
        simple_salesforce.Salesforce(username=INTEGRATION_USERNAME, password="sandbox-password",
                                     security_token="sandboxsecuritytoken",
                                     domain=sdk_login_domain(org.endpoint.base_url, soap=True),
                                     session=sdk_session(org.endpoint.ca_path))
    assert err.value.code == "INVALID_OPERATION"
