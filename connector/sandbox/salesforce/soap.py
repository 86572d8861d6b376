"""The two SOAP partner calls clients use for sessions: ``login()`` and ``logout()``, at
``/services/Soap/u/{version}`` (and the ``serverUrl`` form with the org id appended).

- ``login()`` returns ``LoginResult`` {metadataServerUrl, passwordExpired, sandbox, serverUrl,
  sessionId, userId, userInfo} [DOC: https://developer.salesforce.com/docs/atlas.en-us.264.0.api.meta/api/sforce_api_calls_login_loginresult.htm];
  jsforce reads ``organizationId`` from ``userInfo`` and fails without it
  [SRC: jsforce 3.10.16 lib/connection.js loginBySoap].
- ``login()`` is available in API version 64.0 and earlier, disabled by default in orgs created
  from Winter '26 on, and retired in Summer '27
  [DOC: https://developer.salesforce.com/docs/platform/api/guide/sforce-api-calls-login.html]: the
  sandbox refuses it at 65.0+ and when ``soap_login_enabled`` is False (fault code INVALID_OPERATION,
  [STRICT]: the docs name no code).
- Versions older than 31.0 are retired: 500 ``UNSUPPORTED_API_VERSION``
  [DOC: https://developer.salesforce.com/docs/platform/ajax/guide/sforce-api-ajax-eol.html].
- ``logout()`` ends the session named in the SessionHeader; a session that is not valid is an
  ``INVALID_SESSION_ID`` fault.
Faults are HTTP 500 with ``<faultcode>sf:CODE</faultcode>`` and the code again in
``sf:exceptionCode`` (simple-salesforce reads the latter, jsforce the faultstring).
"""

from __future__ import annotations

from xml.etree import ElementTree
from xml.sax.saxutils import escape

from . import versions
from .identity import OrgSettings, user_info

ENVELOPE = ('<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
            'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>{}</soapenv:Body></soapenv:Envelope>')
LAST_LOGIN_VERSION = 64


class SoapFault(Exception):
    def __init__(self, code: str, message: str, kind: str = "UnexpectedErrorFault"):
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.kind = code, message, kind

    def xml(self) -> str:
        return (
            '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
            'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="urn:fault.partner.soap.sforce.com" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault>'
            f"<faultcode>sf:{self.code}</faultcode><faultstring>{self.code}: {escape(self.message)}</faultstring>"
            f'<detail><sf:{self.kind} xsi:type="sf:{self.kind}"><sf:exceptionCode>{self.code}</sf:exceptionCode>'
            f"<sf:exceptionMessage>{escape(self.message)}</sf:exceptionMessage></sf:{self.kind}></detail>"
            "</soapenv:Fault></soapenv:Body></soapenv:Envelope>")


def _xml_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(str(value))


def _element(name: str, value: object) -> str:
    if value is None:
        return f'<{name} xsi:nil="true"/>'
    return f"<{name}>{_xml_value(value)}</{name}>"


def parse_call(body: bytes) -> tuple[str, dict[str, str]]:
    """(operation, {local element name: text}) of a SOAP request."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        raise SoapFault("INVALID_XML", "the request body is not well-formed XML") from None
    values = {el.tag.rsplit("}", 1)[-1]: (el.text or "") for el in root.iter()}
    soap_body = next((el for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "Body"), None)
    operation = soap_body[0].tag.rsplit("}", 1)[-1] if soap_body is not None and len(soap_body) else ""
    return operation, values


def check_version(version: str, newest: str) -> None:
    major, dot, minor = version.partition(".")
    if not (dot and major.isdigit() and minor == "0"
            and versions.OLDEST <= int(major) <= int(float(newest))):
        raise SoapFault("UNSUPPORTED_API_VERSION", f"Invalid Api version specified on URL: {version}")


def check_login_allowed(version: str, enabled: bool) -> None:
    if int(float(version)) > LAST_LOGIN_VERSION:
        raise SoapFault("INVALID_OPERATION", f"login() is not available in API version {version}: "
                        "use an OAuth 2.0 flow (available up to 64.0)")
    if not enabled:
        raise SoapFault("INVALID_OPERATION", "SOAP API login() is disabled in this org: enable it in Setup > "
                        "User Interface, or use an OAuth 2.0 flow")


def login_response(*, base_url: str, version: str, org: OrgSettings, session_id: str, user: dict) -> str:
    info = "".join(_element(k, v) for k, v in user_info(org, user).items())
    result = (
        f"<metadataServerUrl>{base_url}/services/Soap/m/{version}/{org.id15}</metadataServerUrl>"
        f"<passwordExpired>false</passwordExpired><sandbox>{_xml_value(org.sandbox)}</sandbox>"
        f"<serverUrl>{base_url}/services/Soap/u/{version}/{org.id15}</serverUrl>"
        f"<sessionId>{escape(session_id)}</sessionId><userId>{user['Id']}</userId><userInfo>{info}</userInfo>")
    return ENVELOPE.format(f"<loginResponse><result>{result}</result></loginResponse>")


def logout_response() -> str:
    return ENVELOPE.format("<logoutResponse/>")


def login_fault() -> SoapFault:
    return SoapFault("INVALID_LOGIN", "Invalid username, password, security token; or user locked out.",
                     kind="LoginFault")


def invalid_session_fault() -> SoapFault:
    return SoapFault("INVALID_SESSION_ID", "Invalid Session ID found in SessionHeader: Illegal Session",
                     kind="UnexpectedErrorFault")
