"""Sessions and logins with simple-salesforce's own login code (facts §1: login flows, the loopback
``domain`` trick, re-login only on a 401 whose list body says INVALID_SESSION_ID)."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
import simple_salesforce
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceExpiredSession

from connector.sandbox.salesforce import INTEGRATION_USERNAME, sdk_login_domain, sdk_session

PASSWORD, SECURITY_TOKEN = "sandbox-password", "sandboxsecuritytoken"


def _login(org, **kwargs) -> simple_salesforce.Salesforce:
    soap = "security_token" in kwargs
    domain = sdk_login_domain(org.endpoint.base_url, soap=soap)
    return simple_salesforce.Salesforce(domain=domain, session=sdk_session(org.endpoint.ca_path), **kwargs)


def _rsa_pair() -> tuple[str, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


def test_given_expired_session_then_401_with_list_body_invalid_session_id(sf_org):
    # facts §1 + §4: a 401 body is a JSON list; simple-salesforce reads body[0]["errorCode"].
    sf_org.sandbox.expire_sessions()
    with pytest.raises(SalesforceExpiredSession) as err:
        sf_org.sf.query("SELECT Id FROM User")
    assert err.value.status == 401
    assert err.value.content == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


def test_given_no_bearer_then_401_list(sf_org):
    response = sdk_session(sf_org.endpoint.ca_path).get(f"{sf_org.endpoint.base_url}/services/data/v59.0/limits")
    assert response.status_code == 401 and response.json()[0]["errorCode"] == "INVALID_SESSION_ID"


def test_given_oauth_password_grant_via_sdk_then_new_token_works(sf_org):
    # facts §1: username+password+consumer_key+consumer_secret -> grant_type=password (password + security token).
    app = sf_org.sandbox.connected_app
    sf = _login(sf_org, username=INTEGRATION_USERNAME, password=PASSWORD + SECURITY_TOKEN,
                consumer_key=app.client_id, consumer_secret=app.client_secret)
    assert sf.session_id != sf_org.endpoint.token
    assert sf.query("SELECT COUNT() FROM Opportunity")["totalSize"] > 0


def test_given_password_without_security_token_then_invalid_grant(sf_org):
    app = sf_org.sandbox.connected_app
    with pytest.raises(SalesforceAuthenticationFailed) as err:
        _login(sf_org, username=INTEGRATION_USERNAME, password=PASSWORD,
               consumer_key=app.client_id, consumer_secret=app.client_secret)
    assert err.value.code == "invalid_grant"


def test_given_wrong_client_secret_then_invalid_client(sf_org):
    with pytest.raises(SalesforceAuthenticationFailed) as err:
        _login(sf_org, username=INTEGRATION_USERNAME, password=PASSWORD + SECURITY_TOKEN,
               consumer_key=sf_org.sandbox.connected_app.client_id, consumer_secret="wrong")
    assert err.value.code == "invalid_client"


def test_given_jwt_bearer_grant_via_sdk_then_signature_checked_against_app_key(sf_org):
    # facts §1: JWT RS256 (iss=key, sub=user, aud, exp); verified with the connected app's certificate.
    private, public = _rsa_pair()
    sf_org.sandbox.connected_app.public_key_pem = public
    sf = _login(sf_org, username=INTEGRATION_USERNAME, consumer_key=sf_org.sandbox.connected_app.client_id,
                privatekey=private)
    assert sf.query("SELECT COUNT() FROM User")["totalSize"] >= 1
    other_private, _ = _rsa_pair()
    with pytest.raises(SalesforceAuthenticationFailed) as err:
        _login(sf_org, username=INTEGRATION_USERNAME, consumer_key=sf_org.sandbox.connected_app.client_id,
               privatekey=other_private)
    assert err.value.code == "invalid_grant"


def test_given_client_credentials_via_sdk_then_token_for_run_as_user(sf_org):
    app = sf_org.sandbox.connected_app
    sf = _login(sf_org, consumer_key=app.client_id, consumer_secret=app.client_secret)
    assert sf.query("SELECT COUNT() FROM User")["totalSize"] >= 1


def test_given_soap_login_with_security_token_then_session(sf_org):
    # facts §1: username+password+security_token -> SOAP login (sessionId, serverUrl).
    sf = _login(sf_org, username=INTEGRATION_USERNAME, password=PASSWORD, security_token=SECURITY_TOKEN)
    assert sf.sf_instance == sf_org.endpoint.base_url.split("://")[1]
    assert sf.query("SELECT COUNT() FROM User")["totalSize"] >= 1


def test_given_soap_login_with_wrong_password_then_invalid_login(sf_org):
    with pytest.raises(SalesforceAuthenticationFailed) as err:
        _login(sf_org, username=INTEGRATION_USERNAME, password="nope", security_token=SECURITY_TOKEN)
    assert err.value.code == "INVALID_LOGIN"


def test_given_expiry_then_refreshable_client_logs_in_again_and_continues(sf_org):
    # facts §1: re-login when the 401 list says INVALID_SESSION_ID; a fresh login issues a new token.
    sf = _login(sf_org, username=INTEGRATION_USERNAME, password=PASSWORD, security_token=SECURITY_TOKEN)
    old = sf.session_id
    sf_org.sandbox.expire_sessions()
    assert sf.query("SELECT COUNT() FROM User")["totalSize"] >= 1
    assert sf.session_id != old
    assert sf_org.sandbox.controls.snapshot()["soap_login"] == 2


def test_given_token_request_then_reply_fields_and_signature(sf_org):
    # Token reply {access_token, instance_url, id, token_type, issued_at, signature}; signature =
    # Base64(HMAC-SHA256(client_secret, id + issued_at)).
    app = sf_org.sandbox.connected_app
    reply = sdk_session(sf_org.endpoint.ca_path).post(f"{sf_org.endpoint.base_url}/services/oauth2/token", data={
        "grant_type": "password", "client_id": app.client_id, "client_secret": app.client_secret,
        "username": INTEGRATION_USERNAME, "password": PASSWORD + SECURITY_TOKEN}).json()
    assert set(reply) == {"access_token", "instance_url", "id", "token_type", "issued_at", "signature"}
    assert reply["instance_url"] == sf_org.endpoint.base_url and reply["token_type"] == "Bearer"
    expected = base64.b64encode(hmac.new(app.client_secret.encode(), (reply["id"] + reply["issued_at"]).encode(),
                                         hashlib.sha256).digest()).decode()
    assert reply["signature"] == expected


def test_given_unsupported_grant_then_400_error_json(sf_org):
    response = sdk_session(sf_org.endpoint.ca_path).post(f"{sf_org.endpoint.base_url}/services/oauth2/token",
                                                         data={"grant_type": "authorization_code"})
    assert response.status_code == 400 and response.json()["error"] == "unsupported_grant_type"
