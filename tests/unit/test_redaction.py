"""A secret is masked in every form a message can carry it: as written, and escaped the way
Python's repr (str and bytes), JSON, URL encoding, HTML/XML and a second layer of any of them
write it. The log redaction (jobs/logs.py) and the CRM error cleaning (connector/retry.py) are
the same mechanism."""

from __future__ import annotations

import html
import json
import re
from urllib.parse import quote, quote_plus, urlencode

import pytest

from connector.retry import ErrorFacts, without_secrets
from jobs import logs

SECRET = 'Pa$$ "w0rd"/é&<x>+%\\ok\tend'
"""Quotes, a backslash, a tab, non-ASCII and every character URL, JSON or XML encoding changes."""


def forms_a_message_may_hold(secret: str) -> dict[str, str]:
    header = f"Bearer {secret}"
    return {
        "as written": f"token {secret} refused",
        "str repr": f"Invalid header value {header!r}",
        "bytes repr": f"Invalid header value {header.encode()!r}",
        "json": json.dumps({"echo": header}),
        "json, non-ASCII kept": json.dumps({"echo": header}, ensure_ascii=False),
        "form body": urlencode({"client_secret": secret, "grant_type": "refresh_token"}),
        "query, %20": f"https://crm.example/?token={quote(secret, safe='')}",
        "query, lower-case hex": "?t=" + re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(secret, safe="")),
        "query, +": f"?t={quote_plus(secret)}",
        "xml": f"<password>{html.escape(secret)}</password>",
        "xml without quotes": f"<password>{html.escape(secret, quote=False)}</password>",
        "xml in an html page": html.escape(f"<password>{html.escape(secret)}</password>"),
        "form body in json": json.dumps({"body": urlencode({"password": secret})}),
        "repr of json": repr(json.dumps({"echo": secret})),
        "repr of a form body": repr(urlencode({"password": secret}).encode()),
    }


@pytest.fixture(autouse=True)
def registered():
    logs.forget_secrets()
    logs.register_secrets([SECRET])
    yield
    logs.forget_secrets()


@pytest.mark.parametrize(("form", "message"), forms_a_message_may_hold(SECRET).items())
def test_given_a_secret_in_an_escaped_form_then_the_log_redaction_masks_it(form, message):
    cleaned = logs.redact(message)
    assert "w0rd" not in cleaned and "Pa" not in cleaned.replace("Password", ""), (form, cleaned)
    assert logs.MASK in cleaned


@pytest.mark.parametrize(("form", "message"), forms_a_message_may_hold(SECRET).items())
def test_given_a_secret_in_an_escaped_form_then_crm_error_facts_are_cleaned(form, message):
    facts = ErrorFacts(provider="hubspot", message=message, endpoint=f"GET /x?{message}")
    cleaned = without_secrets(facts, [SECRET])
    assert "w0rd" not in cleaned.message and "w0rd" not in cleaned.endpoint, (form, cleaned.message)


def test_given_ordinary_text_then_nothing_is_masked():
    text = "Pa$$ is not w0rd: quoting 'Bearer' and %2F is fine"
    assert logs.redact(text) == text
