"""Settings: TOML file + environment overrides, *_file secrets, errors that name their key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from connector.errors import ConfigError
from connector.hubspot.settings import HubSpotSettings
from connector.salesforce.settings import SalesforceSettings
from jobs.cli.exits import exit_code_of
from jobs.config import Settings, SettingsError

CANARY = "canary-5f0e2d-do-not-leak"
HUBSPOT = '[crm]\nprovider = "hubspot"\n[hubspot]\naccess_token = "pat-na1-token"\n'


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("AFTERCLOSE_"):
            monkeypatch.delenv(name)


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(tmp_path: Path, text: str) -> dict[str, str]:
    with pytest.raises(SettingsError) as caught:
        Settings.load(write(tmp_path, text))
    return dict(caught.value.problems)


# -- file and environment ------------------------------------------------------------------------


def test_given_file_only_then_values_and_documented_defaults_apply(tmp_path: Path) -> None:
    settings = Settings.load(write(tmp_path, HUBSPOT + "rate_limit_per_10s = 100\n"))

    assert settings.crm.provider == "hubspot" and settings.crm.mapping is None
    assert settings.hubspot.access_token.get_secret_value() == "pat-na1-token"
    assert (settings.hubspot.rate_limit_per_10s, settings.hubspot.budget_share) == (100, 0.5)
    assert settings.hubspot.base_url == "https://api.hubapi.com"
    assert (settings.salesforce.api_version, settings.salesforce.daily_reserve_share) == ("59.0", 0.2)
    assert settings.state.url.get_secret_value() == "sqlite:///.afterclose/state.db"
    assert (settings.server.host, settings.log.level, settings.log.format) == ("127.0.0.1", "info", "auto")
    assert settings.source == str(tmp_path / "config.toml")


def test_given_env_override_then_env_wins_over_file_key_by_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFTERCLOSE_HUBSPOT__RATE_LIMIT_PER_10S", "250")
    monkeypatch.setenv("afterclose_log__level", "DEBUG")
    monkeypatch.setenv("AFTERCLOSE_PLAYBOOK__WORKDAYS", '["sun", "mon", "tue", "wed", "thu"]')
    settings = Settings.load(write(tmp_path, HUBSPOT + "rate_limit_per_10s = 100\nbudget_share = 0.3\n"))

    assert settings.hubspot.rate_limit_per_10s == 250
    assert settings.hubspot.budget_share == 0.3  # the file's other keys stay
    assert settings.log.level == "debug"
    assert settings.playbook.workdays == (0, 1, 2, 3, 6)


def test_given_no_file_then_environment_alone_configures(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFTERCLOSE_CRM__PROVIDER", "salesforce")
    monkeypatch.setenv("AFTERCLOSE_SALESFORCE__INSTANCE_URL", "https://acme.my.salesforce.com")
    monkeypatch.setenv("AFTERCLOSE_SALESFORCE__ACCESS_TOKEN", "00D-token")
    monkeypatch.setenv("AFTERCLOSE_TEST_PG_URL", "postgresql+psycopg://postgres@db/test")  # not a setting: ignored

    settings = Settings.load(None)
    assert settings.crm.provider == "salesforce" and settings.source is None


def test_given_workday_names_and_holidays_then_playbook_calendar_is_typed(tmp_path: Path) -> None:
    settings = Settings.load(write(tmp_path, HUBSPOT + '[playbook]\nworkdays = ["Monday", "tue", "wed", "thu", "fri", "sat"]\n'
                                              "holidays = [2025-12-25]\n"))
    assert settings.playbook.workdays == (0, 1, 2, 3, 4, 5)
    assert [d.isoformat() for d in settings.playbook.holidays] == ["2025-12-25"]


def test_given_touch_points_then_they_replace_the_built_in_list(tmp_path: Path) -> None:
    settings = Settings.load(write(tmp_path, HUBSPOT + '[[playbook.touch_points]]\nid = "kickoff"\ntitle = "Kickoff"\n'
                                              'anchor = "close"\noffset = 2\nbusiness_days = true\ntype = "call"\n'))
    [touch_point] = settings.playbook.touch_points
    assert (touch_point.id, touch_point.offset, touch_point.business_days, touch_point.type) == ("kickoff", 2, True, "call")


# -- secrets from files --------------------------------------------------------------------------


def test_given_secret_file_then_its_content_without_trailing_newline_is_the_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "token").write_text("pat-from-file\n")
    monkeypatch.setenv("AFTERCLOSE_HUBSPOT__ACCESS_TOKEN_FILE", str(tmp_path / "token"))
    settings = Settings.load(write(tmp_path, '[crm]\nprovider = "hubspot"\n'))

    assert settings.hubspot.access_token.get_secret_value() == "pat-from-file"


def test_given_state_url_file_then_url_is_read_from_it(tmp_path: Path) -> None:
    (tmp_path / "url").write_text("postgresql+psycopg://afterclose:pw-123456@db/afterclose\n")
    settings = Settings.load(write(tmp_path, HUBSPOT + f'[state]\nurl_file = "{tmp_path / "url"}"\n'))

    assert settings.state.url.get_secret_value().endswith("@db/afterclose")
    assert "pw-123456" in settings.secret_values()


def test_given_missing_secret_file_then_error_names_the_file_key(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, '[crm]\nprovider = "hubspot"\n[hubspot]\naccess_token_file = "/nonexistent/token"\n')
    assert "cannot read /nonexistent/token" in problems["hubspot.access_token_file"]


def test_given_secret_inline_and_as_file_then_error_names_the_key(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("pat-from-file")
    problems = problems_of(tmp_path, HUBSPOT + f'access_token_file = "{tmp_path / "token"}"\n')
    assert "not both" in problems["hubspot.access_token_file"]


# -- validation ----------------------------------------------------------------------------------

SALESFORCE = '[crm]\nprovider = "salesforce"\n[salesforce]\ninstance_url = "https://acme.my.salesforce.com"\naccess_token = "00D"\n'


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ('[crm]\nprovider = "zoho"\n', "crm.provider"),
        ("[log]\nlevel = 'info'\n", "crm.provider"),
        (HUBSPOT + "rate_limit_per_10s = 0\n", "hubspot.rate_limit_per_10s"),
        (HUBSPOT + "budget_share = 1.5\n", "hubspot.budget_share"),
        (HUBSPOT + 'base_url = "api.hubapi.com"\n', "hubspot.base_url"),
        (HUBSPOT + "max_concurrency = 0\n", "hubspot.max_concurrency"),
        ('[crm]\nprovider = "hubspot"\n', "hubspot.access_token"),
        ('[crm]\nprovider = "hubspot"\n[hubspot]\nclient_id = "c"\nclient_secret = "s"\n', "hubspot.refresh_token"),
        (HUBSPOT + 'client_id = "c"\n', "hubspot.client_secret"),
        (SALESFORCE + 'api_version = "v59.0"\n', "salesforce.api_version"),
        (SALESFORCE + "daily_reserve_share = 1\n", "salesforce.daily_reserve_share"),
        (SALESFORCE.replace("https://acme", "http://acme"), "salesforce.instance_url"),
        ('[crm]\nprovider = "salesforce"\n[salesforce]\nusername = "u@acme.com"\npassword = "p"\n', "salesforce"),
        ('[crm]\nprovider = "salesforce"\n[salesforce]\nconsumer_key = "k"\nconsumer_secret = "s"\n', "salesforce.domain"),
        (SALESFORCE + 'ca_bundle = "/nonexistent/ca.pem"\n', "salesforce.ca_bundle"),
        ('[crm]\nprovider = "hubspot"\nmapping = "/nonexistent/mapping.toml"\n[hubspot]\naccess_token = "t"\n', "crm.mapping"),
        (HUBSPOT + '[state]\nurl = "mysql://u@h/db"\n', "state.url"),
        (HUBSPOT + '[schedule]\nsync = "61 * * * *"\n', "schedule.sync"),
        (HUBSPOT + '[schedule]\nnps = "0 6 * *"\n', "schedule.nps"),
        (HUBSPOT + '[schedule]\ntimezone = "Mars/Olympus"\n', "schedule.timezone"),
        (HUBSPOT + "[schedule]\nmisfire_grace_seconds = -1\n", "schedule.misfire_grace_seconds"),
        (HUBSPOT + '[playbook]\ntimezone = "Europe/Berlinn"\n', "playbook.timezone"),
        (HUBSPOT + '[playbook]\nworkdays = ["funday"]\n', "playbook.workdays"),
        (HUBSPOT + "[playbook]\nworkdays = []\n", "playbook.workdays"),
        (HUBSPOT + "[playbook]\ndue_hour = 24\n", "playbook.due_hour"),
        (HUBSPOT + "[playbook]\ncatch_up_days = -1\n", "playbook.catch_up_days"),
        (HUBSPOT + "[playbook]\ncontract_term_months = 0\n", "playbook.contract_term_months"),
        (HUBSPOT + "[playbook]\ntouch_points = []\n", "playbook.touch_points"),
        (HUBSPOT + '[[playbook.touch_points]]\nid = "k"\ntitle = "K"\nanchor = "signature"\n', "playbook.touch_points[0].anchor"),
        (HUBSPOT + '[[playbook.touch_points]]\nid = "Kick Off"\ntitle = "K"\nanchor = "close"\n', "playbook.touch_points[0].id"),
        (HUBSPOT + '[[playbook.touch_points]]\nid = "k"\ntitle = "K"\nanchor = "close"\n'
                   '[[playbook.touch_points]]\nid = "k"\ntitle = "Again"\nanchor = "renewal"\n', "playbook.touch_points[1].id"),
        (HUBSPOT + '[nps]\nsource = "csv"\n', "nps.path"),
        (HUBSPOT + '[nps]\nsource = "http"\n', "nps.url"),
        (HUBSPOT + '[nps]\nsource = "typeform"\n', "nps.source"),
        (SALESFORCE + '[nps]\nsource = "hubspot-native"\n', "nps.source"),
        (HUBSPOT + '[nps]\nsource = "csv"\npath = "."\n[nps.columns]\nrating = "Score"\n', "nps.columns"),
        (HUBSPOT + '[nps]\nsource = "csv"\npath = "/nonexistent/nps"\n', "nps.path"),
        (HUBSPOT + '[nps]\nsource = "http"\nurl = "https://x"\npaging = "scroll"\n', "nps.paging"),
        (HUBSPOT + '[nps]\nsource = "http"\nurl = "https://x"\n[nps.field_paths]\nemail = "e"\n', "nps.field_paths"),
        (HUBSPOT + "[retry]\nbase_seconds = 60\nmax_seconds = 30\n", "retry.base_seconds"),
        (HUBSPOT + "[retry]\nattempts = 0\n", "retry.attempts"),
        (HUBSPOT + '[log]\nlevel = "loud"\n', "log.level"),
        (HUBSPOT + '[log]\nformat = "xml"\n', "log.format"),
        (HUBSPOT + "[server]\nport = 70000\n", "server.port"),
    ],
)
def test_given_invalid_value_then_error_names_file_and_dotted_key(tmp_path: Path, toml: str, key: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.load(write(tmp_path, toml))
    error = caught.value
    assert key in dict(error.problems), error.problems
    assert str(error).startswith(str(tmp_path / "config.toml"))
    assert f"\n  {key}: " in str(error)
    assert exit_code_of(error) == 2


def test_given_several_problems_then_all_are_reported_one_line_each(tmp_path: Path) -> None:
    toml = HUBSPOT + 'rate_limit_per_10s = "fast"\n[log]\nlevel = "loud"\n[server]\nport = 0\n'
    with pytest.raises(SettingsError) as caught:
        Settings.load(write(tmp_path, toml))
    lines = str(caught.value).splitlines()
    assert [line.split(":")[0].strip() for line in lines[1:]] == ["hubspot.rate_limit_per_10s", "log.level", "server.port"]
    assert caught.value.key == "hubspot.rate_limit_per_10s"


def test_given_value_from_environment_then_error_says_which_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFTERCLOSE_SERVER__PORT", "http")
    problems = problems_of(tmp_path, HUBSPOT)
    assert problems["server.port"].endswith("(from AFTERCLOSE_SERVER__PORT)")


@pytest.mark.parametrize(
    ("toml", "key", "hint"),
    [
        ('[crm]\nprovider = "hubspot"\n[hubspot]\nacess_token = "t"\n', "hubspot.acess_token", "did you mean 'access_token'"),
        (HUBSPOT + "[hubspto]\nbase_url = 'x'\n", "hubspto", "did you mean 'hubspot'"),
        (HUBSPOT + "[[playbook.touch_points]]\nid = 'k'\ntitle = 'K'\nanchor = 'close'\noffset_days = 3\n",
         "playbook.touch_points[0].offset_days", "did you mean 'offset'"),
    ],
)
def test_given_unknown_key_then_error_names_it_and_suggests_the_known_one(tmp_path: Path, toml: str, key: str, hint: str) -> None:
    problems = problems_of(tmp_path, toml)
    assert problems[key].startswith("unknown key") and hint in problems[key]


def test_given_unknown_key_in_environment_then_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFTERCLOSE_HUBSPOT__TOKEN", "t")
    problems = problems_of(tmp_path, HUBSPOT)
    assert problems["hubspot.token"].startswith("unknown key")


def test_given_broken_toml_then_error_names_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config.toml: not valid TOML: .*line 2"):
        Settings.load(write(tmp_path, '[crm]\nprovider = hubspot\n'))


def test_given_missing_config_file_then_error_names_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nope.toml: config file not found"):
        Settings.load(tmp_path / "nope.toml")


# -- secrets never shown -------------------------------------------------------------------------


def test_given_canary_secrets_then_they_never_appear_in_repr_str_json_or_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "secret").write_text(CANARY + "-file\n")
    monkeypatch.setenv("AFTERCLOSE_HUBSPOT__CLIENT_SECRET", CANARY + "-env")
    toml = (f'[crm]\nprovider = "hubspot"\n[hubspot]\naccess_token = "{CANARY}"\nclient_id = "c"\n'
            f'refresh_token_file = "{tmp_path / "secret"}"\n[state]\nurl = "postgresql+psycopg://u:{CANARY}@db/x"\n')
    settings = Settings.load(write(tmp_path, toml))
    for shown in (repr(settings), str(settings), settings.model_dump_json(), repr(settings.hubspot), str(settings.state)):
        assert CANARY not in shown

    broken = toml + "[server]\nport = 'not a port'\n" + '[nps]\nsource = "http"\nurl = "ftp://x"\n'
    with pytest.raises(SettingsError) as caught:
        Settings.load(write(tmp_path, broken))
    assert CANARY not in str(caught.value) and CANARY not in repr(caught.value.problems)


def test_given_bad_secret_then_error_does_not_echo_it(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.load(write(tmp_path, f'[crm]\nprovider = "hubspot"\n[hubspot]\naccess_token = ["{CANARY}"]\n'))
    assert "hubspot.access_token" in str(caught.value) and CANARY not in str(caught.value)


def test_secret_values_lists_every_secret_for_log_masking(tmp_path: Path) -> None:
    settings = Settings.load(write(tmp_path, HUBSPOT + 'client_id = "c"\nclient_secret = "cs-123456"\nrefresh_token = "rt-123456"\n'))
    assert {"pat-na1-token", "cs-123456", "rt-123456"} <= set(settings.secret_values())
    assert "sqlite:///.afterclose/state.db" not in settings.secret_values()  # no password: not a secret


def test_given_inline_secret_in_world_readable_file_then_warned(tmp_path: Path) -> None:
    path = write(tmp_path, HUBSPOT)
    path.chmod(0o644)
    [warning] = Settings.load(path).file_warnings()
    assert "hubspot.access_token" in warning and "chmod 600" in warning and "pat-na1-token" not in warning
    path.chmod(0o600)
    assert Settings.load(path).file_warnings() == []


# -- handing settings to the rest of the program -------------------------------------------------


def test_given_sections_then_adapter_settings_can_be_built_from_them(tmp_path: Path) -> None:
    key_file = write(tmp_path, "-----BEGIN PRIVATE KEY-----\n", name="jwt.key")
    hubspot = Settings.load(write(tmp_path, HUBSPOT))
    salesforce = Settings.load(write(tmp_path, '[crm]\nprovider = "salesforce"\n[salesforce]\nusername = "u@acme.com"\n'
                                               f'consumer_key = "3MVG"\nprivate_key_file = "{key_file}"\n'))

    assert isinstance(hubspot.hubspot, HubSpotSettings) and hubspot.hubspot.secret("access_token") == "pat-na1-token"
    adapter = salesforce.salesforce
    assert isinstance(adapter, SalesforceSettings)
    assert adapter.private_key_file == key_file and adapter.auth_flow() == "jwt"
    assert hubspot.retry.attempts == 6


@pytest.mark.parametrize(
    "login",
    [
        'instance_url = "https://acme.my.salesforce.com"\naccess_token = "00D"',
        'username = "u"\npassword = "p"\nsecurity_token = "t"',
        'username = "u"\npassword = "p"\nconsumer_key = "k"\nconsumer_secret = "s"',
        'consumer_key = "k"\nconsumer_secret = "s"\ndomain = "acme.my"',
    ],
)
def test_given_any_complete_salesforce_login_then_accepted(tmp_path: Path, login: str) -> None:
    settings = Settings.load(write(tmp_path, f'[crm]\nprovider = "salesforce"\n[salesforce]\n{login}\n'))
    assert settings.crm.provider == "salesforce"
