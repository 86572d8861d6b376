"""The http survey source against a mocked survey API (respx): paging, cursor, failures."""

from __future__ import annotations

import datetime as dt
import logging

import httpx
import pytest
import respx

from connector.errors import ConfigError
from connector.nps import NpsSourceConfig, SourceCursor, SourceError, build_source
from connector.nps.http_source import HttpSource
from connector.retry import RetrySettings
from tests.builders import settings_problems

UTC = dt.UTC
BASE = "https://surveys.test"
URL = f"{BASE}/v1/responses"
TOKEN = "s3cr3t-token-value"
SINCE = SourceCursor(since=dt.datetime(2026, 3, 1, tzinfo=UTC))


def item(n: int, score: int = 9, day: int = 2, **extra) -> dict:
    return {"id": f"r-{n}", "email": f"user{n}@x.example", "score": score,
            "responded_at": f"2026-03-{day:02d}T10:00:00Z", "comment": None} | extra


RETRY = RetrySettings(attempts=3, base_seconds=0.25, max_seconds=30.0)


def config(**overrides) -> NpsSourceConfig:
    values = dict(source="http", url=URL, token=TOKEN, paging="none")
    return NpsSourceConfig(**(values | overrides))


def source(sleeps: list[float] | None = None, retry: RetrySettings = RETRY, **overrides) -> HttpSource:
    sleep = sleeps.append if sleeps is not None else (lambda seconds: None)
    return HttpSource(config(**overrides), retry=retry, sleep=sleep)


def page(*items: dict, **extra) -> httpx.Response:
    return httpx.Response(200, json={"items": list(items)} | extra)


# --- one page, the request we send ----------------------------------------------------------------


@respx.mock
def test_given_one_page_then_responses_parsed_and_cursor_is_the_latest_response():
    route = respx.get(URL).mock(return_value=page(item(1, day=2), item(2, score=3, day=5)))
    batch = source().fetch(SINCE)
    assert [(r.response_id, r.email, r.score) for r in batch.responses] == [
        ("r-1", "user1@x.example", 9), ("r-2", "user2@x.example", 3)]
    assert batch.cursor == SourceCursor(since=dt.datetime(2026, 3, 5, 10, tzinfo=UTC))
    request = route.calls.last.request
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.url.params["since"] == "2026-03-01T00:00:00Z"


@respx.mock
def test_given_custom_auth_header_and_no_scheme_then_the_token_alone_is_sent():
    route = respx.get(URL).mock(return_value=page())
    source(auth_header="X-Api-Key", auth_scheme="").fetch(None)
    assert route.calls.last.request.headers["X-Api-Key"] == TOKEN
    assert "Authorization" not in route.calls.last.request.headers


@respx.mock
def test_given_first_run_then_no_since_param_and_empty_result_keeps_no_cursor():
    route = respx.get(URL).mock(return_value=page())
    batch = source().fetch(None)
    assert "since" not in route.calls.last.request.url.params
    assert batch.cursor is None and batch.responses == ()


@respx.mock
def test_given_epoch_since_format_and_renamed_param_then_unix_seconds_sent():
    route = respx.get(URL).mock(return_value=page())
    source(since_param="updated_since", since_format="epoch", params={"survey": "nps-1"}).fetch(SINCE)
    params = route.calls.last.request.url.params
    assert (params["updated_since"], params["survey"]) == (str(int(SINCE.since.timestamp())), "nps-1")


@respx.mock
def test_given_no_new_responses_then_the_cursor_stays_where_it_was():
    respx.get(URL).mock(return_value=page(item(1, day=1)))  # an inclusive API repeats the boundary item
    later = SourceCursor(since=dt.datetime(2026, 3, 1, 10, tzinfo=UTC))
    assert source().fetch(later).cursor == later


@respx.mock
def test_given_nested_field_paths_then_values_found_inside_each_item():
    body = {"data": {"responses": [{"uid": 77, "person": {"email": " Ann@X.example "},
                                    "answers": [{"value": "10"}], "created_at": 1772445600, "account": "company-3"}]}}
    respx.get(URL).mock(return_value=httpx.Response(200, json=body))
    batch = source(items_path="data.responses", field_paths={
        "response_id": "uid", "email": "person.email", "score": "answers.0.value", "responded_at": "created_at",
        "account_id": "account"}).fetch(None)
    [response] = batch.responses
    assert (response.response_id, response.email, response.score, response.account_id) == (
        "77", "ann@x.example", 10, "company-3")
    assert response.responded_at == dt.datetime(2026, 3, 2, 10, tzinfo=UTC)


@respx.mock
def test_given_bad_items_then_rejected_with_reason_and_the_good_ones_imported():
    respx.get(URL).mock(return_value=page(item(1), item(2, score="10/10", day=9), "garbage", item(3, email=None)))
    batch = source().fetch(SINCE)
    assert [r.response_id for r in batch.responses] == ["r-1"]
    assert [r.reason for r in batch.rejected] == [
        "page 1 item 1: score '10/10' is not a plain number 0-10 (export the score alone, e.g. '10' rather "
        "than '10/10')",
        "page 1 item 2: item is str, not an object",
        "page 1 item 3: no email and no account_id: the response cannot be matched to a customer",
    ]
    assert batch.rejected[0].source == URL and '"10/10"' in batch.rejected[0].raw
    assert batch.cursor == SourceCursor(since=dt.datetime(2026, 3, 2, 10, tzinfo=UTC))  # rejected items do not move it


# --- paging ----------------------------------------------------------------------------------------


@respx.mock
def test_given_next_links_then_every_page_read_relative_links_resolved():
    def answer(request: httpx.Request) -> httpx.Response:
        cursor = request.url.params.get("after")
        if cursor is None:
            return page(item(1), next="/v1/responses?after=a1")
        if cursor == "a1":
            return page(item(2), next=f"{URL}?after=a2")
        return page(item(3, day=7), next=None)

    route = respx.get(URL).mock(side_effect=answer)
    batch = source(paging="next_link", next_path="next").fetch(SINCE)
    assert [r.response_id for r in batch.responses] == ["r-1", "r-2", "r-3"]
    assert route.call_count == 3
    assert batch.cursor.since == dt.datetime(2026, 3, 7, 10, tzinfo=UTC)


@respx.mock
def test_given_cursor_paging_then_cursor_sent_back_with_the_original_params():
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.params["since"] == "2026-03-01T00:00:00Z"
        after = request.url.params.get("cursor")
        return {None: page(item(1), meta={"next": "c1"}), "c1": page(item(2), meta={"next": None})}[after]

    route = respx.get(URL).mock(side_effect=answer)
    batch = source(paging="cursor", next_path="meta.next").fetch(SINCE)
    assert len(batch.responses) == 2 and route.call_count == 2


@respx.mock
def test_given_page_numbers_then_read_until_an_empty_page():
    pages = {"1": page(item(1)), "2": page(item(2)), "3": page()}
    route = respx.get(URL).mock(side_effect=lambda request: pages[request.url.params["page"]])
    batch = source(paging="page").fetch(None)
    assert [r.response_id for r in batch.responses] == ["r-1", "r-2"]
    assert route.call_count == 3


@respx.mock
def test_given_api_that_ignores_the_page_param_then_paging_loop_error_not_an_endless_walk():
    respx.get(URL).mock(return_value=page(item(1)))
    with pytest.raises(SourceError, match="paging loop: page 2 returned the same items as page 1"):
        source(paging="page").fetch(SINCE)


@respx.mock
def test_given_next_link_pointing_back_then_paging_loop_error():
    def answer(request: httpx.Request) -> httpx.Response:
        return page(item(1), next="/v1/responses?after=a1") if "after" not in request.url.params else \
            page(item(2), next="/v1/responses?after=a1")

    respx.get(URL).mock(side_effect=answer)
    with pytest.raises(SourceError, match="paging loop: page 3 would repeat"):
        source(paging="next_link").fetch(SINCE)


@respx.mock
def test_given_repeated_cursor_then_paging_loop_error():
    respx.get(URL).mock(return_value=page(item(1), meta={"next": "same"}))
    with pytest.raises(SourceError, match="paging loop"):
        source(paging="cursor", next_path="meta.next").fetch(SINCE)


@respx.mock
def test_given_more_pages_than_the_cap_then_error_asks_to_raise_the_cap():
    route = respx.get(URL).mock(side_effect=lambda request: page(
        item(int(request.url.params.get("n", "0"))), next=f"{URL}?n={int(request.url.params.get('n', '0')) + 1}"))
    with pytest.raises(SourceError, match="more than page_cap = 3 pages; raise page_cap"):
        source(paging="next_link", page_cap=3).fetch(SINCE)
    assert route.call_count == 3


# --- failures and retries ----------------------------------------------------------------------------


@respx.mock
def test_given_429_with_retry_after_then_that_long_is_waited_and_the_call_retried():
    respx.get(URL).mock(side_effect=[httpx.Response(429, headers={"Retry-After": "7"}), page(item(1))])
    sleeps: list[float] = []
    batch = source(sleeps).fetch(SINCE)
    assert sleeps == [7.0]
    assert len(batch.responses) == 1


@respx.mock
def test_given_429_with_http_date_then_wait_counted_from_the_servers_date_header():
    limited = httpx.Response(429, headers={"Retry-After": "Tue, 03 Mar 2026 10:00:12 GMT",
                                           "Date": "Tue, 03 Mar 2026 10:00:00 GMT"})
    respx.get(URL).mock(side_effect=[limited, page()])
    sleeps: list[float] = []
    source(sleeps).fetch(SINCE)
    assert sleeps == [12.0]


@respx.mock
def test_given_retry_after_longer_than_the_cap_then_waits_only_the_cap():
    respx.get(URL).mock(side_effect=[httpx.Response(429, headers={"Retry-After": "3600"}), page()])
    sleeps: list[float] = []
    source(sleeps, retry=RetrySettings(attempts=2, base_seconds=0.1, max_seconds=5.0)).fetch(SINCE)
    assert sleeps == [5.0]


@respx.mock
def test_given_5xx_then_backoff_and_success():
    respx.get(URL).mock(side_effect=[httpx.Response(503), httpx.Response(502), page(item(1))])
    sleeps: list[float] = []
    batch = source(sleeps).fetch(SINCE)
    assert len(sleeps) == 2 and all(0 <= s <= 0.5 for s in sleeps)
    assert len(batch.responses) == 1


@respx.mock
def test_given_timeouts_then_retried_and_success():
    respx.get(URL).mock(side_effect=[httpx.ReadTimeout("slow"), httpx.ConnectError("reset"), page(item(1))])
    sleeps: list[float] = []
    assert len(source(sleeps).fetch(SINCE).responses) == 1
    assert len(sleeps) == 2


@respx.mock
def test_given_5xx_on_every_try_then_source_error_with_status_after_the_configured_attempts():
    route = respx.get(URL).mock(return_value=httpx.Response(503))
    with pytest.raises(SourceError) as error:
        source().fetch(SINCE)
    assert route.call_count == 3
    assert error.value.status == 503
    assert "page 1" in str(error.value) and "HTTP 503" in str(error.value)


@respx.mock
def test_given_401_then_stops_at_once_and_never_shows_the_token(caplog):
    route = respx.get(URL).mock(return_value=httpx.Response(401, json={"error": "bad key"}))
    sleeps: list[float] = []
    with caplog.at_level(logging.DEBUG), pytest.raises(SourceError) as error:
        source(sleeps).fetch(SINCE)
    assert (route.call_count, sleeps, error.value.status) == (1, [], 401)
    assert TOKEN not in str(error.value) and TOKEN not in caplog.text


@respx.mock
def test_given_retries_logged_then_the_auth_header_value_is_not_in_the_log(caplog):
    respx.get(URL).mock(side_effect=[httpx.Response(500), page()])
    with caplog.at_level(logging.DEBUG):
        source().fetch(SINCE)
    assert "retrying in" in caplog.text
    assert TOKEN not in caplog.text


def test_token_is_not_in_the_config_repr():
    assert TOKEN not in repr(config())


# --- garbage answers stop the source and keep the cursor -------------------------------------------


@respx.mock
def test_given_body_that_is_not_json_then_clear_error_and_no_cursor_returned():
    respx.get(URL).mock(return_value=httpx.Response(200, text="<html>Maintenance</html>",
                                                    headers={"content-type": "text/html"}))
    with pytest.raises(SourceError, match=r"page 1 is not JSON \(text/html; .*'<html>Maintenance</html>'"):
        source().fetch(SINCE)


@respx.mock
def test_given_good_first_page_then_garbage_then_the_whole_fetch_fails_so_the_cursor_cannot_move():
    respx.get(URL).mock(side_effect=[page(item(1, day=20), next=f"{URL}?after=x"), httpx.Response(200, text="{oops")])
    with pytest.raises(SourceError, match="page 2 is not JSON"):
        source(paging="next_link").fetch(SINCE)


@pytest.mark.parametrize(("body", "found"), [({"data": []}, "nothing"), ({"items": {"a": 1}}, "dict"),
                                             ([item(1)], "nothing")])
@respx.mock
def test_given_page_of_the_wrong_shape_then_error_says_what_the_items_path_holds(body, found):
    respx.get(URL).mock(return_value=httpx.Response(200, json=body))
    with pytest.raises(SourceError, match=f"items_path 'items' holds {found}, not a list of responses"):
        source().fetch(SINCE)


@respx.mock
def test_given_top_level_list_and_empty_items_path_then_read():
    respx.get(URL).mock(return_value=httpx.Response(200, json=[item(1)]))
    assert len(source(items_path="").fetch(None).responses) == 1


@respx.mock
def test_given_same_item_on_two_pages_then_imported_once():
    respx.get(URL).mock(side_effect=[page(item(1), next=f"{URL}?p=2"), page(item(1), item(2))])
    batch = source(paging="next_link").fetch(None)
    assert ([r.response_id for r in batch.responses], batch.duplicates) == (["r-1", "r-2"], 1)


# --- config -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("overrides", "key"), [
    (dict(url="ftp://surveys.test"), "nps.url"),
    (dict(paging="links"), "nps.paging"),
    (dict(auth_header="Bad Header"), "nps.auth_header"),
    (dict(field_paths={"email": "e"}), "nps.field_paths"),
    (dict(page_cap=0), "nps.page_cap"),
    (dict(timeout_seconds=0), "nps.timeout_seconds"),
    (dict(since_param="since date"), "nps.since_param"),
])
def test_given_bad_http_config_then_config_error_names_the_key(overrides, key):
    assert key in settings_problems(nps=dict(source="http", url=URL, paging="none") | overrides)


def test_factory_builds_each_kind_and_hubspot_native_needs_the_adapter():
    assert build_source(config()).name == "http"
    assert build_source(NpsSourceConfig()).fetch(SINCE).responses == ()
    with pytest.raises(ConfigError, match="needs the HubSpot adapter"):
        build_source(NpsSourceConfig(source="hubspot-native"))
    assert "nps.source" in settings_problems(nps={"source": "typeform"})


@respx.mock
def test_given_url_with_its_own_query_then_it_is_kept_next_to_since_and_the_cursor():
    def answer(request: httpx.Request) -> httpx.Response:
        assert (request.url.params["survey"], request.url.params["since"]) == ("nps-7", "2026-03-01T00:00:00Z")
        return page(item(1), meta={"next": "c1"}) if "cursor" not in request.url.params else page()

    route = respx.get(URL).mock(side_effect=answer)
    source(url=f"{URL}?survey=nps-7", paging="cursor", next_path="meta.next").fetch(SINCE)
    assert route.call_count == 2


@respx.mock
def test_given_403_then_no_retry():
    route = respx.get(URL).mock(return_value=httpx.Response(403))
    with pytest.raises(SourceError, match="HTTP 403"):
        source().fetch(SINCE)
    assert route.call_count == 1


# --- credentials stay with the configured origin ---------------------------------------------------

OTHER = "https://elsewhere.test"


@pytest.mark.parametrize(("header", "scheme"), [("X-Api-Key", ""), ("Authorization", "Bearer")])
@respx.mock
def test_given_a_same_origin_redirect_then_the_credential_header_follows(header, scheme):
    respx.get(URL).mock(return_value=httpx.Response(302, headers={"Location": f"{BASE}/v2/responses"}))
    moved = respx.get(f"{BASE}/v2/responses").mock(return_value=page(item(1)))
    batch = source(auth_header=header, auth_scheme=scheme).fetch(None)
    assert len(batch.responses) == 1
    assert TOKEN in moved.calls.last.request.headers[header]


@pytest.mark.parametrize(("header", "scheme"), [("X-Api-Key", ""), ("Authorization", "Bearer")])
@respx.mock
def test_given_a_redirect_to_another_origin_then_the_credential_is_not_sent_there(header, scheme):
    respx.get(URL).mock(return_value=httpx.Response(302, headers={"Location": f"{OTHER}/v1/responses"}))
    elsewhere = respx.get(f"{OTHER}/v1/responses").mock(return_value=page(item(1)))
    source(auth_header=header, auth_scheme=scheme).fetch(None)
    sent = elsewhere.calls.last.request.headers
    assert header not in sent and TOKEN not in str(sent.raw)


@respx.mock
def test_given_a_next_link_to_another_origin_then_the_credential_is_not_sent_there():
    respx.get(URL).mock(return_value=page(item(1), next=f"{OTHER}/v1/responses?page=2"))
    elsewhere = respx.get(f"{OTHER}/v1/responses").mock(return_value=page(item(2)))
    source(auth_header="X-Api-Key", auth_scheme="", paging="next_link").fetch(None)
    assert "X-Api-Key" not in elsewhere.calls.last.request.headers


@respx.mock
def test_given_another_origin_refuses_the_request_without_the_token_then_the_error_says_why():
    respx.get(URL).mock(return_value=httpx.Response(302, headers={"Location": f"{OTHER}/v1/responses"}))
    respx.get(f"{OTHER}/v1/responses").mock(return_value=httpx.Response(401))
    with pytest.raises(SourceError) as raised:
        source(auth_header="X-Api-Key", auth_scheme="").fetch(None)
    assert OTHER in str(raised.value) and "not sent" in str(raised.value) and TOKEN not in str(raised.value)
