"""Bounded work: a log/trace search runs within LOGS_QUERY_TIMEOUT on both stores, and a catastrophic
regular expression over long records cannot pin a web worker (RE2 on SQLite, statement_timeout on
PostgreSQL). Past the budget the answer is a 504 naming the limit, and the same client is served next."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from logs_app.store import budget, get_store
from tests.logs.conftest import NOW, make_log, make_span

pytestmark = pytest.mark.django_db
RANGE = {"start": (NOW - timedelta(hours=1)).isoformat(), "end": (NOW + timedelta(minutes=1)).isoformat()}
LONG = "a" * 5000
on_sqlite = pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite store's engine (run in a "
                               "child pytest on SQLite by tests/logs/test_sqlite_default.py)")
on_postgres = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's statement_timeout "
                                 "(CI runs this suite on PostgreSQL)")


@pytest.fixture
def store() -> Any:
    return get_store()


@pytest.fixture
def long_records(store: Any, org_a: Any) -> Any:
    # Bodies that almost match: the failing case is what makes a backtracking engine explode.
    store.write_logs([make_log(org_a, body=LONG + "!", time=NOW - timedelta(minutes=i % 50)) for i in range(200)])
    return store


def _search(client: APIClient, q: str) -> Any:
    return client.get("/api/v1/logs/search", {"q": q, **RANGE})


def _assert_budget_answer(resp: Any, seconds: float) -> None:
    assert resp.status_code == 504, resp.content
    err = resp.json()["error"]
    assert err["code"] == "query_timeout"
    assert "LOGS_QUERY_TIMEOUT" in err["message"] and f"{seconds:g} s" in err["message"]
    assert err["details"]["limit"] == "LOGS_QUERY_TIMEOUT"


@on_sqlite
@pytest.mark.parametrize("pattern", ["(a+)+$", "(a|aa)+b", "(a*)*!x", "^(a|a?)+$"])
def test_catastrophic_regex_over_long_records_completes_on_sqlite(api_bob: APIClient, long_records: Any,
                                                                  pattern: str) -> None:
    # Python's re needs ~2^5000 steps for each of these; RE2 is linear in the record's length.
    resp = _search(api_bob, f'body~"{pattern}"')
    assert resp.status_code == 200, resp.content
    assert resp.json()["records"] == []
    matching = _search(api_bob, 'body~"(a+)+!$"')
    assert matching.status_code == 200 and len(matching.json()["records"]) == 100


@on_sqlite
@pytest.mark.parametrize(("pattern", "why"), [(r"(a)\\1", "backreferences"), ("(?=a)a", "look-arounds")])
def test_patterns_re2_cannot_run_are_400_with_position_on_sqlite(api_bob: APIClient, long_records: Any,
                                                                   pattern: str, why: str) -> None:
    resp = _search(api_bob, f'level=info AND body~"{pattern}"')
    assert resp.status_code == 400, resp.content
    err = resp.json()["error"]
    assert err["code"] == "invalid_query" and "RE2" in err["message"] and why in err["message"]
    assert err["details"]["position"] == len("level=info AND ")


@on_sqlite
def test_search_past_its_budget_answers_504_on_sqlite_then_serves_the_next(
        api_bob: APIClient, long_records: Any, settings: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(budget, "PROGRESS_STEPS", 50)  # the handler looks at the clock every 50 VM steps
    settings.LOGS_QUERY_TIMEOUT = 1e-6
    _assert_budget_answer(_search(api_bob, 'body~"a+b"'), 1e-6)
    _assert_budget_answer(api_bob.get("/api/v1/logs/histogram", {"q": "aaa", **RANGE}), 1e-6)
    settings.LOGS_QUERY_TIMEOUT = 10
    resp = _search(api_bob, 'body~"a+!"')
    assert resp.status_code == 200 and len(resp.json()["records"]) == 100
    # The handler is gone once the read is over: other statements on the connection run unbounded.
    with connection.cursor() as c:
        c.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) "
                  "SELECT count(*) FROM n")
        assert c.fetchone()[0] == 20000


@on_sqlite
def test_trace_search_past_its_budget_answers_504_on_sqlite(api_bob: APIClient, store: Any, org_a: Any,
                                                            settings: Any, monkeypatch: Any) -> None:
    store.write_spans([make_span(org_a, f"{i:032x}", f"{i:016x}", name=LONG) for i in range(1, 200)])
    monkeypatch.setattr(budget, "PROGRESS_STEPS", 50)
    settings.LOGS_QUERY_TIMEOUT = 1e-6
    _assert_budget_answer(api_bob.get("/api/v1/traces/search", {"q": 'name~"a+b"', **RANGE}), 1e-6)


BACKTRACKING = r'body~"^(.*)(.*)(.*)\\1\\2\\3x?$"'  # PostgreSQL's engine backtracks on backreferences


@on_postgres
def test_pathological_regex_past_statement_timeout_answers_504_then_serves_the_next(
        api_bob: APIClient, store: Any, org_a: Any, settings: Any) -> None:
    # Each of these records costs PostgreSQL seconds with this pattern (and grows with its length).
    store.write_logs([make_log(org_a, body="a" * 400 + "b", time=NOW - timedelta(minutes=i)) for i in range(20)])
    settings.LOGS_QUERY_TIMEOUT = 0.05
    _assert_budget_answer(_search(api_bob, BACKTRACKING), 0.05)
    _assert_budget_answer(api_bob.get("/api/v1/logs/histogram", {"q": BACKTRACKING[:-1] + '"', **RANGE}), 0.05)
    # The same client (and the same database connection) is served at once afterwards.
    resp = _search(api_bob, 'body~"a+b$"')
    assert resp.status_code == 200 and len(resp.json()["records"]) == 20
    # The timeout was this read's only: the test's own transaction is back to no limit.
    with connection.cursor() as c:
        c.execute("SHOW statement_timeout")
        assert c.fetchone()[0] == "0"


@on_postgres
def test_trace_search_runs_under_statement_timeout(api_bob: APIClient, store: Any, org_a: Any,
                                                   settings: Any) -> None:
    store.write_spans([make_span(org_a, f"{i:032x}", f"{i:016x}", name="a" * 400 + "b") for i in range(1, 20)])
    settings.LOGS_QUERY_TIMEOUT = 0.05
    _assert_budget_answer(api_bob.get("/api/v1/traces/search",
                                      {"q": r'name~"^(.*)(.*)(.*)\\1\\2\\3x?$"', **RANGE}), 0.05)
    settings.LOGS_QUERY_TIMEOUT = 10
    resp = api_bob.get("/api/v1/traces/search", {"q": 'name~"a+b$"', **RANGE})
    assert resp.status_code == 200 and len(resp.json()["traces"]) == 19
