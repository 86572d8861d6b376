"""The csv survey source against the files survey tools really export, good and bad."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.errors import ConfigError
from connector.nps import NpsSourceConfig, SourceBatch, build_source
from connector.nps.csv_source import CsvSource, read_csv_file
from tests.builders import settings_problems

UTC = dt.UTC
HEADER = "email,score,responded_at,comment,response_id\n"


def write(folder: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


def fetch(path: Path, **config) -> SourceBatch:
    return build_source(NpsSourceConfig(source="csv", path=path, **config)).fetch(None)


def one_row(tmp_path: Path, row: str, header: str = HEADER, **config) -> SourceBatch:
    return fetch(write(tmp_path, "export.csv", header + row), **config)


def reasons(batch: SourceBatch) -> list[str]:
    return [r.reason for r in batch.rejected]


# --- the happy path ----------------------------------------------------------------------------


def test_given_valid_rows_then_every_response_imported_with_normalised_values(tmp_path):
    batch = one_row(tmp_path, "  Maria.Garcia@ACME.example ,10,2026-03-02T14:05:00Z,Great onboarding,r-1\n"
                              "li.wei@acme.example,6,2026-03-03,,r-2\n")
    first, second = batch.responses
    assert (first.email, first.score, first.responded_at, first.comment, first.response_id) == (
        "maria.garcia@acme.example", 10, dt.datetime(2026, 3, 2, 14, 5, tzinfo=UTC), "Great onboarding", "r-1")
    assert (second.comment, second.responded_at) == (None, dt.datetime(2026, 3, 3, tzinfo=UTC))
    assert first.source == "csv:export.csv"
    assert batch.rejected == () and batch.cursor is None


def test_given_no_response_id_column_then_a_stable_id_is_derived_from_email_and_time(tmp_path):
    path = write(tmp_path, "a.csv", "email,score,responded_at\nann@x.example,9,2026-03-02T10:00:00+01:00\n")
    first = fetch(path).responses[0].response_id
    write(tmp_path, "a.csv", "email,score,responded_at\nANN@x.example,9,2026-03-02 09:00:00Z\n")
    assert first.startswith("csv:")
    assert fetch(path).responses[0].response_id == first  # same person, same instant, other spelling


def test_given_headers_in_other_case_spacing_and_order_then_columns_found(tmp_path):
    batch = one_row(tmp_path, "9,2026-03-02,ann@x.example\n", header=" Score ;RESPONDED AT;E-Mail\n".replace(";", ","),
                    columns={"email": "e-mail"})
    assert [(r.email, r.score) for r in batch.responses] == [("ann@x.example", 9)]


def test_given_mapped_header_names_then_they_are_read_as_the_canonical_columns(tmp_path):
    header = "Customer Email,How likely (0-10),Submitted,Why,Account\n"
    batch = one_row(tmp_path, ",8,2026-03-02,Good,company-7\n", header=header,
                    columns={"email": "customer email", "score": "How likely (0-10)", "responded_at": "submitted",
                             "comment": "why", "account_id": "account"})
    [response] = batch.responses
    assert (response.email, response.account_id, response.score, response.comment) == (None, "company-7", 8, "Good")


# --- encodings, delimiters, layout -----------------------------------------------------------------


def test_given_utf8_bom_then_first_header_is_still_email(tmp_path):
    path = write(tmp_path, "bom.csv", "\ufeff" + HEADER + "ann@x.example,9,2026-03-02,,\n")
    assert len(fetch(path).responses) == 1


def test_given_excel_unicode_text_utf16_with_tabs_then_imported(tmp_path):
    text = "email\tscore\tresponded_at\r\nann@x.example\t10\t2026-03-02\r\n"
    path = tmp_path / "excel.csv"
    path.write_bytes(text.encode("utf-16"))
    assert [r.score for r in fetch(path).responses] == [10]


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_given_any_common_delimiter_then_sniffed_and_read(tmp_path, delimiter):
    rows = [["email", "score", "responded_at", "comment"],
            ["ann@x.example", "9", "2026-03-02", "Good, fast; friendly"],
            ["bob@x.example", "3", "2026-03-03", "Slow"]]
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter).writerows(rows)
    batch = fetch(write(tmp_path, "d.csv", buffer.getvalue()))
    assert [(r.email, r.comment) for r in batch.responses] == [("ann@x.example", "Good, fast; friendly"),
                                                               ("bob@x.example", "Slow")]


def test_given_semicolons_in_comments_of_a_comma_file_then_commas_still_win(tmp_path):
    text = HEADER + "".join(f"u{i}@x.example,9,2026-03-02,a;b;c;d;e;f,\n" for i in range(5))
    assert len(fetch(write(tmp_path, "c.csv", text)).responses) == 5


def test_given_blank_lines_then_skipped_and_line_numbers_stay_true(tmp_path):
    batch = one_row(tmp_path, "\nann@x.example,9,2026-03-02,,\n\n   \n,,,,\nbob@x.example,eleven,2026-03-02,,\n")
    assert len(batch.responses) == 1
    assert [(r.line, r.reason) for r in batch.rejected] == [(7, "score 'eleven' is not a number 0-10")]


def test_given_quoted_comment_spanning_lines_then_kept_whole_and_later_lines_counted(tmp_path):
    batch = one_row(tmp_path, 'ann@x.example,9,2026-03-02,"Line one\nLine two, with comma",r-1\n'
                              "bob@x.example,99,2026-03-02,,r-2\n")
    assert batch.responses[0].comment == "Line one\nLine two, with comma"
    assert batch.rejected[0].line == 4
    assert batch.rejected[0].source.endswith("export.csv")


def test_given_row_with_more_fields_than_the_header_then_rejected_not_misread(tmp_path):
    batch = one_row(tmp_path, "ann@x.example,9,2026-03-02,Good, really,r-1\n")
    assert batch.responses == ()
    assert "row has 6 fields but the header has 5" in reasons(batch)[0]


def test_given_rejected_row_then_its_raw_text_is_kept_for_the_admin(tmp_path):
    batch = one_row(tmp_path, "ann@x.example,10/10,2026-03-02,,r-1\n")
    assert batch.rejected[0].raw == "ann@x.example,10/10,2026-03-02,,r-1"
    assert batch.rejected[0].describe().endswith("export.csv:2: score '10/10' is not a plain number 0-10 "
                                                 "(export the score alone, e.g. '10' rather than '10/10')")


# --- duplicates ---------------------------------------------------------------------------------------


def test_given_same_row_twice_then_imported_once_and_counted_as_duplicate(tmp_path):
    batch = one_row(tmp_path, "ann@x.example,9,2026-03-02,,r-1\nann@x.example,9,2026-03-02,,r-1\n")
    assert (len(batch.responses), batch.duplicates, batch.rejected) == (1, 1, ())


def test_given_same_email_and_time_without_id_then_imported_once(tmp_path):
    batch = one_row(tmp_path, "ann@x.example,9,2026-03-02T10:00:00Z\nAnn@x.example ,9,2026-03-02 10:00Z\n",
                    header="email,score,responded_at\n")
    assert (len(batch.responses), batch.duplicates) == (1, 1)


def test_given_same_id_with_different_score_then_first_kept_and_conflict_reported(tmp_path):
    batch = one_row(tmp_path, "ann@x.example,9,2026-03-02,,r-1\nann@x.example,3,2026-03-02,,r-1\n")
    assert [r.score for r in batch.responses] == [9]
    assert "response 'r-1' was already read at" in reasons(batch)[0]
    assert "export.csv:2 with different values; the first one is kept" in reasons(batch)[0]


# --- values -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("score", "reason"), [
    ("10/10", "score '10/10' is not a plain number 0-10"),
    ("", "score is empty"),
    ("11", "score 11 is outside 0-10"),
    ("-1", "score -1 is outside 0-10"),
    ("9.5", "score '9.5' is not a whole number 0-10"),
    ("nine", "score 'nine' is not a number 0-10"),
])
def test_given_score_that_is_not_a_whole_0_to_10_then_row_rejected_with_reason(tmp_path, score, reason):
    batch = one_row(tmp_path, f"ann@x.example,{score},2026-03-02,,r-1\n")
    assert batch.responses == ()
    assert reason in reasons(batch)[0]


@pytest.mark.parametrize(("score", "value"), [("9.0", 9), (" 7 ", 7), ("0", 0), ("10", 10)])
def test_given_score_written_as_whole_number_then_accepted(tmp_path, score, value):
    assert one_row(tmp_path, f"ann@x.example,{score},2026-03-02,,r-1\n").responses[0].score == value


@pytest.mark.parametrize(("raw", "expected"), [
    ("2026-03-02", dt.datetime(2026, 3, 2, tzinfo=ZoneInfo("Europe/Berlin"))),
    ("2026-03-02 14:05", dt.datetime(2026, 3, 2, 14, 5, tzinfo=ZoneInfo("Europe/Berlin"))),
    ("2026-03-02T14:05:00", dt.datetime(2026, 3, 2, 14, 5, tzinfo=ZoneInfo("Europe/Berlin"))),
    ("2026-03-02T14:05:00Z", dt.datetime(2026, 3, 2, 14, 5, tzinfo=UTC)),
    ("2026-03-02T14:05:00+05:30", dt.datetime(2026, 3, 2, 8, 35, tzinfo=UTC)),
    ("2026-03-02T14:05:00.123-04:00", dt.datetime(2026, 3, 2, 18, 5, 0, 123000, tzinfo=UTC)),
])
def test_given_iso_dates_then_naive_ones_are_in_the_configured_zone(tmp_path, raw, expected):
    batch = one_row(tmp_path, f"ann@x.example,9,{raw},,r-1\n", timezone="Europe/Berlin")
    assert batch.responses[0].responded_at == expected
    assert batch.responses[0].responded_at.utcoffset() is not None


def test_given_slashed_date_without_date_format_then_rejected_as_ambiguous(tmp_path):
    batch = one_row(tmp_path, "ann@x.example,9,03/02/2026,,r-1\n")
    assert "ambiguous (day/month or month/day?); set date_format" in reasons(batch)[0]


@pytest.mark.parametrize(("fmt", "day"), [("%d/%m/%Y", dt.date(2026, 2, 3)), ("%m/%d/%Y", dt.date(2026, 3, 2))])
def test_given_date_format_then_slashed_dates_read_that_way_and_iso_still_works(tmp_path, fmt, day):
    batch = one_row(tmp_path, "ann@x.example,9,03/02/2026,,r-1\nbob@x.example,9,2026-03-05,,r-2\n", date_format=fmt)
    assert [r.responded_at.date() for r in batch.responses] == [day, dt.date(2026, 3, 5)]


@pytest.mark.parametrize("raw", ["yesterday", "2026-13-45", "2 March 2026"])
def test_given_text_that_is_no_date_then_rejected(tmp_path, raw):
    batch = one_row(tmp_path, f"ann@x.example,9,{raw},,r-1\n")
    assert batch.responses == () and "responded_at" in reasons(batch)[0]


@pytest.mark.parametrize(("email", "reason"), [
    ("not an email", "email 'not an email' is not one email address"),
    ("", "no email and no account_id"),
])
def test_given_bad_or_missing_email_then_rejected(tmp_path, email, reason):
    assert reason in reasons(one_row(tmp_path, f"{email},9,2026-03-02,,r-1\n"))[0]


# --- whole files and folders ------------------------------------------------------------------------


def test_given_file_without_a_required_column_then_config_error_names_file_and_column(tmp_path):
    path = write(tmp_path, "no-score.csv", "email,responded_at\nann@x.example,2026-03-02\n")
    with pytest.raises(ConfigError) as error:
        read_csv_file(path, NpsSourceConfig(source="csv", path=path))
    assert (error.value.source, error.value.key) == (str(path), "score")
    assert "missing required column 'score'; the header has: 'email', 'responded_at'" in str(error.value)


def test_given_only_file_of_the_source_lacks_a_column_then_the_fetch_fails_with_config_error(tmp_path):
    with pytest.raises(ConfigError, match="missing required column 'responded_at'"):
        fetch(write(tmp_path, "x.csv", "email,score\nann@x.example,9\n"))


def test_given_folder_with_one_bad_file_then_the_others_load_and_the_bad_one_is_reported(tmp_path):
    write(tmp_path, "2026-01.csv", HEADER + "ann@x.example,9,2026-01-10,,r-1\n")
    write(tmp_path, "2026-02.csv", "email;score\nbob@x.example;3\n")
    write(tmp_path, "2026-03.CSV", HEADER + "cat@x.example,7,2026-03-10,,r-3\n")
    write(tmp_path, "notes.txt", "not a csv")
    write(tmp_path, "._2026-03.csv", "\x00\x05 mac resource fork")
    batch = fetch(tmp_path)
    assert [r.response_id for r in batch.responses] == ["r-1", "r-3"]
    [bad] = batch.rejected
    assert bad.source.endswith("2026-02.csv") and bad.line is None
    assert "missing required column 'responded_at'" in bad.reason


def test_given_folder_where_no_file_fits_then_config_error(tmp_path):
    write(tmp_path, "a.csv", "mail,score,date\n")
    write(tmp_path, "b.csv", "mail,score,date\n")
    with pytest.raises(ConfigError, match="a.csv: email: missing required column 'email'"):
        fetch(tmp_path)


def test_given_the_same_export_twice_in_a_folder_then_each_response_once(tmp_path):
    text = HEADER + "ann@x.example,9,2026-01-10,,r-1\n"
    write(tmp_path, "week1.csv", text)
    write(tmp_path, "week2.csv", text + "bob@x.example,4,2026-01-12,,r-2\n")
    batch = fetch(tmp_path)
    assert ([r.response_id for r in batch.responses], batch.duplicates) == (["r-1", "r-2"], 1)


def test_given_empty_and_non_utf8_files_then_reported_and_the_rest_loads(tmp_path):
    write(tmp_path, "a.csv", HEADER + "ann@x.example,9,2026-01-10,,r-1\n")
    write(tmp_path, "b.csv", "")
    (tmp_path / "c.csv").write_bytes(HEADER.encode() + "zoë@x.example,9,2026-01-10,,r-9\n".encode("latin-1"))
    batch = fetch(tmp_path)
    assert len(batch.responses) == 1
    assert sorted(reasons(batch)) == ["the file is empty (no header row)",
                                      "the file is not UTF-8 text (byte 47); export it as 'CSV UTF-8'"]


def test_given_path_that_does_not_exist_then_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no such file or folder"):
        fetch(tmp_path / "missing.csv")


def test_given_empty_folder_then_nothing_and_no_error(tmp_path):
    assert fetch(tmp_path) == SourceBatch(responses=(), rejected=(), cursor=None)


@pytest.mark.parametrize(("config", "key"), [
    (dict(path=None), "nps.path"),
    (dict(columns={"mail": "E-mail"}), "nps.columns"),
    (dict(timezone="Mars/Olympus"), "nps.timezone"),
])
def test_given_bad_csv_config_then_config_error_names_the_key(tmp_path, config, key):
    assert key in settings_problems(nps=dict(source="csv", path=str(tmp_path)) | config)


def test_csv_source_ignores_since_and_returns_no_cursor(tmp_path):
    from connector.nps import SourceCursor
    path = write(tmp_path, "a.csv", HEADER + "ann@x.example,9,2026-01-10,,r-1\n")
    source = CsvSource(NpsSourceConfig(source="csv", path=path))
    batch = source.fetch(SourceCursor(since=dt.datetime(2027, 1, 1, tzinfo=UTC)))
    assert len(batch.responses) == 1 and batch.cursor is None


# --- nothing crashes, nothing is lost ---------------------------------------------------------------

cells = st.one_of(
    st.sampled_from(["ann@x.example", " BOB@x.example ", "", "9", "10/10", "9.5", "2026-03-02", "03/02/2026",
                     "r-1", "r-2", "a,b", 'say "hi"', "multi\nline", ";", "\t"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(cells, min_size=1, max_size=7), max_size=12), st.sampled_from([",", ";", "\t"]))
def test_any_rows_are_either_imported_rejected_or_duplicates_and_nothing_raises(tmp_path, rows, delimiter):
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)  # "\r\n": quotes any field with \r or \n
    writer.writerow(["email", "score", "responded_at", "comment", "response_id"])
    writer.writerows(rows)
    path = write(tmp_path, "fuzz.csv", buffer.getvalue())
    batch = read_csv_file(path, NpsSourceConfig(source="csv", path=path))
    answered = sum(1 for row in rows if any(cell.strip() for cell in row))
    assert len(batch.responses) + len(batch.rejected) + batch.duplicates == answered


# --- oversized fields ------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [131_072 + 1, 1_000_000])
def test_given_a_comment_longer_than_the_csv_modules_field_limit_then_every_row_is_still_read(tmp_path, size):
    essay = "Onboarding went well, " * (size // 22 + 1)
    rows = [["ann@x.example", "9", "2026-03-02", "short", "r-1"],
            ["bob@x.example", "3", "2026-03-02", essay, "r-2"],  # quoted: may hold anything
            ["cy@x.example", "7", "2026-03-03", "fine", "r-3"],
            ["dee@x.example", "10", "2026-03-04", "", "r-4"]]
    buffer = io.StringIO()
    csv.writer(buffer).writerows([HEADER.strip().split(","), *rows])
    batch = fetch(write(tmp_path, "export.csv", buffer.getvalue()))
    assert [r.response_id for r in batch.responses] == ["r-1", "r-2", "r-3", "r-4"], reasons(batch)
    assert batch.responses[1].comment == essay.strip()
    assert batch.rejected == ()
