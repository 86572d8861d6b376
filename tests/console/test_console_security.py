"""Who may use the console, and what it never shows: sign-in, cookies, CSRF, roles, the proxy header."""

from __future__ import annotations

from jobs.config import Settings
from tests.cli.conftest import invoke
from tests.console.conftest import ADMIN_TOKEN, VIEWER_TOKEN, base_of, console_on, csrf_of, sign_in


def test_given_no_sign_in_when_any_page_is_opened_then_the_sign_in_page_is_shown_instead(on_fake):
    client = on_fake.client()
    for path in ("/mappings", "/playbooks", "/preview?q=x", "/runs", "/runs/1", "/scorecard", "/scorecard.csv",
                 "/changes"):
        response = client.get(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/signin?next="), path
    assert client.post("/mappings/save", data={}).status_code == 303


def test_given_a_wrong_token_then_sign_in_is_refused_and_ten_wrong_tries_lock_the_address_out(on_fake):
    client = on_fake.client()
    refused = sign_in(client, "not-the-token-at-all-really")
    assert refused.status_code == 403 and "does not sign in here" in refused.text
    for _ in range(9):
        sign_in(client, "still-not-the-token-at-all")
    locked = sign_in(client, ADMIN_TOKEN)
    assert locked.status_code == 429 and "afterclose_session" not in locked.headers.get("set-cookie", "")


def test_given_the_admin_token_then_the_session_cookie_is_httponly_and_samesite_strict(on_fake):
    response = sign_in(on_fake.client(), ADMIN_TOKEN, "Ada")
    cookie = response.headers["set-cookie"].split(",")[0]
    assert response.status_code == 303 and "afterclose_session=" in cookie
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie  # plain http here


def test_given_https_through_a_trusted_proxy_then_the_session_cookie_is_secure(on_fake):
    client = on_fake.client(host="127.0.0.1")
    client.headers["x-forwarded-proto"] = "https"
    response = sign_in(client, ADMIN_TOKEN)
    assert "Secure" in response.headers["set-cookie"].split(",")[0]


def test_given_a_form_without_its_csrf_token_then_it_is_refused_and_nothing_is_written(on_hubspot):
    client = on_hubspot.signed_in()
    page = client.get("/mappings").text
    before = on_hubspot.mapping.read_text()
    form = {"base": base_of(page), "crm:fields.decision_criteria": "description"}
    for token in (None, "forged" + csrf_of(page)[6:]):
        response = client.post("/mappings/save", data=form | ({"csrf_token": token} if token else {}))
        assert response.status_code == 403 and "CSRF" in response.text
    assert on_hubspot.mapping.read_text() == before
    assert on_hubspot.ctx.store.console_changes() == []


def test_given_the_viewer_token_then_every_page_reads_but_saving_is_refused(on_hubspot):
    client = on_hubspot.signed_in(VIEWER_TOKEN, "Val Viewer")
    page = client.get("/mappings")
    assert page.status_code == 200 and "read-only" in page.text and "Review changes" not in page.text
    response = client.post("/mappings/save", data={"csrf_token": csrf_of(page.text), "base": base_of(page.text),
                                                   "crm:fields.decision_criteria": "description"})
    assert response.status_code == 403 and "read-only" in response.text
    assert 'crm = "decision_criteria"' in on_hubspot.mapping.read_text()


def test_given_a_proxy_header_then_it_signs_in_only_from_a_trusted_address_with_the_role_configured(fake):
    section = ('[console]\nproxy_user_header = "X-Forwarded-User"\nproxy_admins = ["ada@example.com"]\n'
               'enabled = true\n')
    with console_on(fake, console_section=section) as console:
        trusted = console.client(host="127.0.0.1")
        admin = trusted.get("/mappings", headers={"X-Forwarded-User": "ada@example.com"})
        viewer = trusted.get("/mappings", headers={"X-Forwarded-User": "bob@example.com"})
        forged = console.client(host="203.0.113.9").get("/mappings", headers={"X-Forwarded-User": "ada@example.com"})
    assert admin.status_code == 200 and "ada@example.com · can change" in admin.text
    assert viewer.status_code == 200 and "bob@example.com · read-only" in viewer.text
    assert forged.status_code == 303  # anyone can send a header: only the proxy's is believed


def test_no_page_ever_shows_a_token_or_the_crms_credentials(on_fake):
    client = on_fake.signed_in()
    secrets = (ADMIN_TOKEN, VIEWER_TOKEN, "pat-fake-crm-0000")
    for path in ("/mappings", "/playbooks", "/preview?q=a", "/runs", "/scorecard", "/changes",
                 "/scorecard.csv?view=deals"):
        body = client.get(path).text
        assert not [s for s in secrets if s in body], path


def test_every_answer_forbids_framing_and_scripts_from_elsewhere(on_fake):
    response = on_fake.client().get("/signin")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY" and response.headers["cache-control"] == "no-store"


def test_given_admin_token_file_then_the_token_it_holds_signs_in_its_trailing_newline_stripped(fake):
    token_file = fake.tmp / "console-admin-token"
    token_file.write_text(ADMIN_TOKEN + "\n")  # as `openssl rand -hex 24 > file` or a mounted secret leaves it
    with console_on(fake, console_section=f'[console]\nadmin_token_file = "{token_file}"\n') as console:
        held = Settings.load(console.config).console.secret("admin_token")
        signed_in = sign_in(console.client(), ADMIN_TOKEN, "Ada")
        wrong = sign_in(console.client(), ADMIN_TOKEN[:-1] + "X", "Ada")
        page = console.signed_in(ADMIN_TOKEN, "Ada").get("/mappings")
    assert held == ADMIN_TOKEN  # the file's newline is not part of the token
    assert signed_in.status_code == 303 and "afterclose_session=" in signed_in.headers["set-cookie"]
    assert wrong.status_code == 403
    assert page.status_code == 200 and "Ada (admin token) · can change" in page.text


def test_given_admin_token_file_that_does_not_exist_then_a_config_error_names_the_key_and_the_file(fake):
    missing = fake.tmp / "no-such-token-file"
    config = fake.config(f'[console]\nenabled = true\nadmin_token_file = "{missing}"\n')
    for command in (("console", "--config", config), ("check", "--config", config)):
        result = invoke(*command)
        assert result.exit_code == 2, (command, result.stdout, result.stderr)
        assert f"console.admin_token_file: cannot read {missing}" in result.stderr, command
        assert "Traceback" not in result.stderr


def test_given_an_empty_admin_token_file_then_refused_as_empty(fake):
    empty = fake.tmp / "empty-token"
    empty.write_text("\n")
    result = invoke("console", "--config", fake.config(f'[console]\nadmin_token_file = "{empty}"\n'))
    assert result.exit_code == 2 and f"console.admin_token_file: {empty} is empty" in result.stderr
