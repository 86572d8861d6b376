"""The PostgreSQL test policy of tests/conftest.py: skip with a reason locally, fail under CI=true."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = (Path(__file__).resolve().parents[1] / "conftest.py").read_text(encoding="utf-8")
NEEDS_PG = "def test_needs_postgres(pg_url):\n    assert pg_url\n"
UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:1/test"
QUIET = ("-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:hypothesispytest")  # faster inner runs


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("AFTERCLOSE_TEST_PG_URL", UNREACHABLE)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_pg=NEEDS_PG)
    return pytester


def test_given_no_postgres_outside_ci_then_tests_skip_with_the_reason(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    result = project.runpytest("-rs", *QUIET)
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*PostgreSQL not reachable at*127.0.0.1:1*"])


def test_given_no_postgres_under_ci_then_the_run_fails(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    result = project.runpytest(*QUIET)
    result.assert_outcomes(errors=1)
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*CI=true requires PostgreSQL*"])
