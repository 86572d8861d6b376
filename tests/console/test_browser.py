"""The console in a real browser: the system's Chromium (Debian's `chromium`, installed by `make
test`) driven by Playwright. One browser per test session; each test its own context (cookies).
Without a Chromium these tests skip and say how to get one; under CI=true they fail."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator

import pytest

from connector.serving import serve_app
from jobs.console.app import console_app
from tests.cli.conftest import invoke
from tests.console.conftest import ADMIN_TOKEN, console_on

pytestmark = pytest.mark.browser


def chromium_path() -> str | None:
    return os.environ.get("AFTERCLOSE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    path = chromium_path()
    if path is None:
        message = "no Chromium found (Debian: apt-get install chromium; `make test` does it; or set AFTERCLOSE_CHROMIUM)"
        if os.environ.get("CI", "").strip().lower() == "true":
            pytest.fail(f"CI=true requires the browser tests' Chromium: {message}", pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def live(open_crm):
    """``live(crm_name)`` -> (page, console): a console served over HTTP on that CRM."""
    import contextlib

    with contextlib.ExitStack() as stack:
        def start(provider: str = "hubspot"):
            console = stack.enter_context(console_on(open_crm(provider)))
            port = stack.enter_context(serve_app(console_app(console.ctx), host="127.0.0.1", port=0, name="console"))
            return console, f"http://127.0.0.1:{port}"

        yield start


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def sign_in(page, url: str, token: str = ADMIN_TOKEN) -> None:
    page.fill("input[name=name]", "Ada Admin")
    page.fill("input[name=token]", token)
    page.click("button[type=submit]")


def test_given_no_sign_in_then_the_console_asks_for_the_token_first(page, live):
    console, url = live()
    page.goto(f"{url}/runs")
    assert page.url.startswith(f"{url}/signin") and page.get_by_role("heading", name="Sign in").is_visible()
    page.fill("input[name=token]", "a wrong token, not the real one")
    page.click("button[type=submit]")
    assert "does not sign in here" in page.get_by_role("alert").inner_text()
    sign_in(page, url)
    page.wait_for_url(f"{url}/runs")
    assert page.get_by_role("heading", name="Runs").is_visible()


def test_map_a_field_from_the_live_sandbox_schema_and_save_it(page, live):
    console, url = live()
    page.goto(f"{url}/mappings")
    sign_in(page, url)
    picker = page.get_by_label("CRM field for fields.decision_criteria")
    picker.fill("description")
    picker.dispatch_event("change")
    verdict = page.locator("#verdict-fields-decision_criteria [data-verdict]")
    assert verdict.get_attribute("data-verdict") == "fits"
    page.get_by_role("button", name="Review changes").click()
    assert '+crm = "description"' in page.get_by_label("diff").inner_text()
    page.get_by_role("button", name="Save to hubspot.toml").click()
    assert "Saved" in page.get_by_role("status").inner_text()
    assert 'crm = "description"' in console.mapping.read_text()


def test_an_incompatible_field_is_refused_as_it_is_picked_and_on_review(page, live):
    console, url = live()
    before = console.mapping.read_text()
    page.goto(f"{url}/mappings")
    sign_in(page, url)
    picker = page.get_by_label("CRM field for fields.renewal_date")
    picker.fill("dealname")
    picker.dispatch_event("change")
    refused = page.locator("#verdict-fields-renewal_date [data-verdict=refused]")
    assert "mapped as date, the property is string" in refused.inner_text()
    page.get_by_role("button", name="Review changes").click()
    assert "Not saved" in page.get_by_role("alert").inner_text()
    assert page.get_by_role("button", name=re.compile("Save to")).count() == 0
    assert console.mapping.read_text() == before


def test_preview_a_deal_by_name(page, live):
    console, url = live("fake")
    writes = console.crm.write_calls()  # setup's, before
    page.goto(f"{url}/preview")
    sign_in(page, url)
    page.get_by_label("Deal name").fill("Oceanic Air - Expansion")
    page.get_by_role("button", name="Search").click()
    actions = page.locator("#actions")
    assert "Handoff status ← incomplete" in actions.inner_text() and "create" in actions.inner_text()
    assert "Playbook" in page.locator("#deal").inner_text() and "because" in page.locator("#deal").inner_text()
    assert console.crm.write_calls() == writes


def test_open_a_runs_rejected_records(page, live):
    console, url = live("fake")
    assert invoke("run", "--config", console.config, "--job", "sync").exit_code == 1
    page.goto(f"{url}/runs")
    sign_in(page, url)
    page.get_by_role("link", name=re.compile(r"\d+ rejected")).first.click()
    rows = page.locator("#records tbody tr")
    assert rows.count() > 0 and all("rejected" in rows.nth(i).inner_text() for i in range(rows.count()))
    assert page.locator("#records td.bad").count() == rows.count()


def test_a_form_with_a_forged_csrf_token_is_refused(page, live):
    console, url = live()
    before = console.mapping.read_text()
    page.goto(f"{url}/mappings")
    sign_in(page, url)
    page.get_by_label("CRM field for fields.decision_criteria").fill("description")
    page.evaluate("document.querySelector('form[action=\"/mappings/review\"] input[name=csrf_token]').value = 'forged'")
    page.get_by_role("button", name="Review changes").click()
    assert "CSRF" in page.get_by_role("alert").inner_text()
    assert console.mapping.read_text() == before
