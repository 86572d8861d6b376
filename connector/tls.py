"""Why a TLS certificate could not be verified, in words that lead to the right fix.

"Certificate verify failed" has causes with different remedies: a CA this machine does not trust
(a TLS-inspecting proxy, a private CA: ``ca_bundle``), a certificate for another host (the URL is
wrong, or the server is: no CA file changes that), one that has expired or is not valid yet (the
server must renew it, or this machine's clock is wrong). Each SDK wraps the ``ssl`` error its own
way (urllib3 in MaxRetryError in requests' SSLError, or flattened into a string by the HubSpot
SDK), so the cause is read from the ``ssl.SSLCertVerificationError`` in the exception chain, or
from OpenSSL's words in the text when only the text survived.

All of them are set-up problems, not outages: ``connector.retry.classify`` makes them
``TlsError`` (never retried; exit 2).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

UNKNOWN_CA = "TLS_UNKNOWN_CA"
HOST_MISMATCH = "TLS_HOST_MISMATCH"
EXPIRED = "TLS_EXPIRED"
NOT_YET_VALID = "TLS_NOT_YET_VALID"
UNVERIFIED = "TLS_UNVERIFIED"
CODES = frozenset({UNKNOWN_CA, HOST_MISMATCH, EXPIRED, NOT_YET_VALID, UNVERIFIED})
"""The ``ErrorFacts.code`` of each cause; ``connector.retry`` turns them into ``TlsError``."""

# OpenSSL's X509_V_ERR_* numbers (include/openssl/x509_vfy.h) and the words it prints for them.
_BY_NUMBER = {2: UNKNOWN_CA, 18: UNKNOWN_CA, 19: UNKNOWN_CA, 20: UNKNOWN_CA, 21: UNKNOWN_CA, 9: NOT_YET_VALID,
              10: EXPIRED, 62: HOST_MISMATCH, 63: HOST_MISMATCH, 64: HOST_MISMATCH}
_BY_WORDS = (("unable to get local issuer certificate", UNKNOWN_CA), ("self-signed certificate", UNKNOWN_CA),
             ("self signed certificate", UNKNOWN_CA), ("unable to get issuer certificate", UNKNOWN_CA),
             ("unable to verify the first certificate", UNKNOWN_CA), ("certificate has expired", EXPIRED),
             ("certificate is not yet valid", NOT_YET_VALID), ("hostname mismatch", HOST_MISMATCH),
             ("ip address mismatch", HOST_MISMATCH))
_VERIFY_FAILED = "CERTIFICATE_VERIFY_FAILED"

_ADVICE = {
    UNKNOWN_CA: "the server's TLS certificate is not signed by a CA this machine trusts; if a TLS-inspecting "
                "proxy or a private CA signs it, set ca_bundle to that CA's file (PEM)",
    HOST_MISMATCH: "the server's TLS certificate is not valid for the host in the URL AfterClose connected to: "
                   "check the URL (a ca_bundle does not change this)",
    EXPIRED: "the server's TLS certificate has expired: it must be renewed on the server (or this machine's "
             "clock is wrong); a ca_bundle does not change this",
    NOT_YET_VALID: "the server's TLS certificate is not valid yet: this machine's clock is probably behind (or "
                   "the server installed its new certificate early); a ca_bundle does not change this",
    UNVERIFIED: "the server's TLS certificate cannot be verified",
}


@dataclass(frozen=True, slots=True)
class TlsProblem:
    code: str
    """One of ``CODES``."""
    detail: str
    """OpenSSL's own words."""

    @property
    def message(self) -> str:
        return f"{_ADVICE[self.code]} (OpenSSL: {self.detail})"


def tls_problem(exc: BaseException) -> TlsProblem | None:
    """The verification failure somewhere in ``exc``'s chain or text; None when it is not one."""
    for link in _chain(exc):
        if isinstance(link, ssl.SSLCertVerificationError):
            detail = link.verify_message or str(link)
            code = _BY_NUMBER.get(link.verify_code) or _by_words(detail) or UNVERIFIED
            return TlsProblem(code, detail)
    text = str(exc)
    if _VERIFY_FAILED not in text:
        return None
    detail = text.split("certificate verify failed:", 1)[-1].split("(_ssl.c", 1)[0].strip(" .')\"") or text
    return TlsProblem(_by_words(text) or UNVERIFIED, detail)


def _by_words(text: str) -> str | None:
    lowered = text.lower()
    return next((code for words, code in _BY_WORDS if words in lowered), None)


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and everything it wraps: causes, contexts, urllib3's ``reason``, and exceptions
    passed as arguments (requests wraps urllib3's error that way)."""
    seen: list[BaseException] = []
    todo = [exc]
    while todo and len(seen) < 20:
        link = todo.pop()
        if any(link is s for s in seen):
            continue
        seen.append(link)
        wrapped = [link.__cause__, link.__context__, getattr(link, "reason", None), *getattr(link, "args", ())]
        todo += [item for item in wrapped if isinstance(item, BaseException)]
    return seen
