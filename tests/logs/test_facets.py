"""Log analytics (logs_app/store/facets.py, logs_app/analytics.py): facets and counts over time by a field,
checked number for number on a known record set on the configured SQL store (PostgreSQL here; SQLite in a
child pytest), on ClickHouse (chdb) and on the Collector's layout; org isolation; the filter terms each
value carries select exactly its records; bad field names and parameters are 400s."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from logs_app.store import get_store
from logs_app.store.base import LogStore
from logs_app.store.clickhouse_otel import ClickHouseOtelStore
from logs_app.store.facets import facets, grouped_counts
from tests.logs.chstore import RecordingExecutor, fresh_clickhouse_store
from tests.logs.conftest import NOW, make_log
from tests.logs.test_clickhouse_otel import otel, use_store  # noqa: F401 - `otel` is a fixture

ROOT = Path(__file__).resolve().parents[2]
# A one-hour window in six 10-minute buckets; every record sits in a known bucket.
T0 = NOW.replace(second=0) - timedelta(hours=2)
T1 = T0 + timedelta(hours=1)
BUCKET = timedelta(minutes=10)
pytestmark = pytest.mark.django_db


def at(bucket: int, second: int) -> datetime:
    return T0 + bucket * BUCKET + timedelta(seconds=second)


def known_records(org: Any, other: Any) -> list[Any]:
    """org: api 3 errors (bucket 0) + 3 infos (bucket 1); web 4 infos (bucket 2); worker 2 warns (bucket 5).
    other: 5 errors of globex-api with a key org never has."""
    recs = []
    for i in range(3):
        recs.append(make_log(org, time=at(0, i), service="api", level="error",
                             attributes={"http.status": 500, "route": "/a"}))
        recs.append(make_log(org, time=at(1, i), service="api", level="info",
                             attributes={"http.status": 200, "route": "/a"}))
    for i in range(4):
        attrs: dict[str, Any] = {"http.status": 200, "user": 'u "1" x'}
        if i == 0:
            attrs["flag"] = True
        recs.append(make_log(org, time=at(2, i), service="web", level="info", attributes=attrs))
    recs.append(make_log(org, time=at(5, 0), service="worker", level="warn", attributes={"service": "shadow"}))
    recs.append(make_log(org, time=at(5, 1), service="worker", level="warn"))
    recs.append(make_log(org, time=T1, service="late", level="fatal"))  # just outside the window
    for i in range(5):
        recs.append(make_log(other, time=at(3, i), service="globex-api", level="error",
                             attributes={"secret.key": "b", "http.status": 503}))
    return recs


def pairs(values: list[Any]) -> list[tuple[str | None, int]]:
    return [(v.value, v.count) for v in values]


def check_known_facets(store: LogStore, org: Any, other: Any) -> None:
    f = facets(store, org, "", T0, T1)
    assert (f.sampled, f.complete, f.sample_limit) == (12, True, 10_000)
    assert pairs(f.service) == [("api", 6), ("web", 4), ("worker", 2)]
    assert pairs(f.level) == [("info", 7), ("error", 3), ("warn", 2)]
    assert [(a.key, a.count) for a in f.attributes] == [("http.status", 10), ("route", 6), ("user", 4),
                                                        ("flag", 1), ("service", 1)]
    by_key = {a.key: pairs(a.values) for a in f.attributes}
    assert by_key == {"http.status": [("200", 7), ("500", 3)], "route": [("/a", 6)], "user": [('u "1" x', 4)],
                      "flag": [("1" if store.name == "sqlite" else "true", 1)], "service": [("shadow", 1)]}
    # The query narrows them; `top`/`keys` bound them.
    f = facets(store, org, "service=api", T0, T1, top=1, keys=1)
    assert pairs(f.service) == [("api", 6)] and pairs(f.level) == [("error", 3)]
    # (200 and 500 tie at 3: the smaller value first)
    assert [(a.key, a.count, pairs(a.values)) for a in f.attributes] == [("http.status", 6, [("200", 3)])]
    # A sample: the newest records only, and the answer says so.
    f = facets(store, org, "", T0, T1, sample=5)
    assert (f.sampled, f.complete) == (5, False)
    assert pairs(f.service) == [("web", 3), ("worker", 2)]
    # The other org's records only for the other org.
    g = facets(store, other, "", T0, T1)
    assert pairs(g.service) == [("globex-api", 5)]
    assert [a.key for a in g.attributes] == ["http.status", "secret.key"]
    assert pairs(facets(store, org, "secret.key=b", T0, T1).service) == []


def check_known_counts(store: LogStore, org: Any, other: Any) -> None:
    c = grouped_counts(store, org, "", T0, T1, "service", buckets=6)
    assert c.step_us == 600_000_000 and c.buckets[0] == T0 and c.buckets[5] == T0 + 5 * BUCKET
    assert [(s.value, s.total, s.counts) for s in c.series] == [
        ("api", 6, [3, 3, 0, 0, 0, 0]), ("web", 4, [0, 0, 4, 0, 0, 0]), ("worker", 2, [0, 0, 0, 0, 0, 2])]
    c = grouped_counts(store, org, "", T0, T1, "service", buckets=6, top=1)
    assert [(s.value, s.total, s.counts) for s in c.series] == [
        ("api", 6, [3, 3, 0, 0, 0, 0]), (None, 6, [0, 0, 4, 0, 0, 2])]
    c = grouped_counts(store, org, "level!=warn", T0, T1, "http.status", buckets=6)
    assert [(s.value, s.total, s.counts) for s in c.series] == [
        ("200", 7, [0, 3, 4, 0, 0, 0]), ("500", 3, [3, 0, 0, 0, 0, 0])]
    c = grouped_counts(store, org, "", T0, T1, "attr.service", buckets=2)
    assert [(s.value, s.total, s.counts) for s in c.series] == [("", 11, [10, 1]), ("shadow", 1, [0, 1])]
    c = grouped_counts(store, other, "", T0, T1, "LEVEL", buckets=6)
    assert [(s.value, s.counts) for s in c.series] == [("error", [0, 0, 0, 5, 0, 0])]


# -- the configured SQL store (PostgreSQL; SQLite in the child run) --------------------------------------

def test_facets_of_a_known_record_set(org_a: Any, org_b: Any) -> None:
    store = get_store()
    store.write_logs(known_records(org_a, org_b))
    check_known_facets(store, org_a, org_b)


def test_counts_over_time_by_field(org_a: Any, org_b: Any) -> None:
    store = get_store()
    store.write_logs(known_records(org_a, org_b))
    check_known_counts(store, org_a, org_b)


# -- ClickHouse -----------------------------------------------------------------------------------------

def test_clickhouse_facets_and_counts(org_a: Any, org_b: Any) -> None:
    store = fresh_clickhouse_store()
    store.write_logs(known_records(org_a, org_b))
    check_known_facets(store, org_a, org_b)
    check_known_counts(store, org_a, org_b)


def test_clickhouse_statements_carry_the_org_and_bind_every_value(org_a: Any, org_b: Any) -> None:
    fresh_clickhouse_store().write_logs(known_records(org_a, org_b))
    store = fresh_clickhouse_store(recording=True)
    store.write_logs(known_records(org_a, org_b))
    recorder = store.executor
    assert isinstance(recorder, RecordingExecutor)
    evil = "x'; DROP TABLE t; --"
    facets(store, org_a, f'"{evil}"', T0, T1)
    grouped_counts(store, org_a, f'"{evil}"', T0, T1, "evil.key-@/x")
    reads = [(sql, params) for sql, params in recorder.statements if sql.lstrip().startswith("WITH")]
    assert len(reads) == 2
    for sql, params in reads:
        assert "org_id = {p" in sql and org_a.pk in params.values()
        assert "DROP" not in sql and "evil.key" not in sql
        assert any(evil in str(v) for v in params.values())


def test_collector_layout_facets_and_counts(otel: ClickHouseOtelStore, org_a: Any, org_b: Any) -> None:  # noqa: F811
    start, end = NOW - timedelta(hours=1), NOW + timedelta(minutes=1)
    f = facets(otel, org_a, "", start, end)
    assert (f.sampled, f.complete) == (4, True)
    assert pairs(f.service) == [("api-router", 2), ("checkout", 2)]
    assert sorted(pairs(f.level)) == [("debug", 1), ("error", 1), ("info", 1), ("warn", 1)]
    by_key = {a.key: (a.count, pairs(a.values)) for a in f.attributes}
    assert by_key["http.route"] == (3, [("/v1/chat", 2), ("/pay", 1)])
    assert by_key["tokens"] == (2, [("120", 1), ("900", 1)])
    assert by_key["request_id"] == (1, [("req-acme", 1)])
    assert all("globex" not in str(v) for v in by_key.values())
    c = grouped_counts(otel, org_a, "", start, end, "http.route", buckets=1)
    assert [(s.value, s.total) for s in c.series] == [("/v1/chat", 2), ("", 1), ("/pay", 1)]
    c = grouped_counts(otel, org_b, "level=error", start, end, "service", buckets=1)
    assert [(s.value, s.total) for s in c.series] == [("checkout", 1)]


# -- the API --------------------------------------------------------------------------------------------

def _window() -> dict[str, str]:
    return {"start": T0.isoformat(), "end": T1.isoformat()}


def test_api_facets_carry_terms_that_select_exactly_their_records(api_alice: Any, org_a: Any, org_b: Any) -> None:
    get_store().write_logs(known_records(org_a, org_b))
    r = api_alice.get("/api/v1/logs/facets", {"q": "", **_window()})
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["org"] == org_a.slug and body["sample"] == {"limit": 10000, "records": 12, "complete": True}
    assert body["service"][0] == {"value": "api", "count": 6,
                                  "filter": {"include": "service=api", "exclude": "-service=api"}}
    attrs = {a["key"]: a for a in body["attributes"]}
    assert attrs["service"]["field"] == "attr.service"  # the column has that name
    assert attrs["user"]["values"][0]["filter"]["include"] == 'attr.user="u \\"1\\" x"'  # user: a column
    assert "secret.key" not in attrs and all(s["value"] != "globex-api" for s in body["service"])
    # Every term, in and out, selects exactly the records with (without) the value.
    for group in [body["service"], body["level"], *(a["values"] for a in body["attributes"])]:
        for v in group:
            for kind, expect in (("include", v["count"]), ("exclude", 12 - v["count"])):
                found = api_alice.get("/api/v1/logs/search", {"q": v["filter"][kind], "limit": 100, **_window()})
                assert found.status_code == 200, (v, found.content)
                assert len(found.json()["records"]) == expect, (kind, v)


def test_api_counts(api_alice: Any, api_charlie: Any, org_a: Any, org_b: Any) -> None:
    get_store().write_logs(known_records(org_a, org_b))
    r = api_alice.get("/api/v1/logs/counts", {"by": "service", "buckets": 6, "top": 2, **_window()})
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["step_seconds"] == 600 and len(body["buckets"]) == 6
    assert [(s["value"], s["counts"]) for s in body["series"]] == [
        ("api", [3, 3, 0, 0, 0, 0]), ("web", [0, 0, 4, 0, 0, 0]), (None, [0, 0, 0, 0, 0, 2])]
    assert body["series"][0]["filter"] == {"include": "service=api", "exclude": "-service=api"}
    assert body["series"][2]["filter"] is None
    r = api_alice.get("/api/v1/logs/counts", {"by": "http.status", "buckets": 1, **_window()})
    assert [(s["value"], s["total"], s["filter"] and s["filter"]["include"]) for s in r.json()["series"]] == [
        ("200", 7, "http.status=200"), ("500", 3, "http.status=500"), ("", 2, None)]
    # Org B sees its own records only, over the same window.
    r = api_charlie.get("/api/v1/logs/counts", {"by": "service", "buckets": 1, **_window()})
    assert [(s["value"], s["total"]) for s in r.json()["series"]] == [("globex-api", 5)]
    r = api_charlie.get("/api/v1/logs/facets", _window())
    assert [v["value"] for v in r.json()["service"]] == ["globex-api"]


@pytest.mark.parametrize("by", ["", "body", "message", "org", "a b", "x;drop", "1abc", "k'", "attr.", "x" * 201])
def test_bad_group_fields_are_400(api_alice: Any, by: str) -> None:
    r = api_alice.get("/api/v1/logs/counts", {"by": by, **_window()})
    assert r.status_code == 400, r.content
    assert r.json()["error"]["code"] == "invalid_param" and r.json()["error"]["details"]["param"] == "by"


@pytest.mark.parametrize(("path", "params", "code"), [
    ("/api/v1/logs/facets", {"q": "level=nope"}, "invalid_query"),
    ("/api/v1/logs/facets", {"q": "(a"}, "invalid_query"),
    ("/api/v1/logs/facets", {"top": "0"}, "invalid_limit"),
    ("/api/v1/logs/facets", {"sample": "100001"}, "invalid_limit"),
    ("/api/v1/logs/facets", {"keys": "x"}, "invalid_limit"),
    ("/api/v1/logs/counts", {"by": "service", "buckets": "501"}, "invalid_limit"),
    ("/api/v1/logs/counts", {"by": "service", "q": 'service~"("'}, "invalid_query"),
    ("/api/v1/logs/counts", {"by": "service", "start": "yesterday-ish"}, "invalid_time"),
])
def test_bad_parameters_are_400(api_alice: Any, path: str, params: dict[str, str], code: str) -> None:
    r = api_alice.get(path, params)
    assert r.status_code == 400, r.content
    assert r.json()["error"]["code"] == code


def test_another_org_named_in_the_query_is_404(api_alice: Any, org_b: Any) -> None:
    for path in ("/api/v1/logs/facets", "/api/v1/logs/counts"):
        r = api_alice.get(path, {"q": f"org={org_b.slug}", "by": "service"})
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_collector_layout_through_the_api(otel: ClickHouseOtelStore, org_a: Any, api_alice: Any,  # noqa: F811
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    use_store(monkeypatch, otel)
    window = {"start": (NOW - timedelta(hours=1)).isoformat(), "end": (NOW + timedelta(minutes=1)).isoformat()}
    body = api_alice.get("/api/v1/logs/facets", window).json()
    route = next(a for a in body["attributes"] if a["key"] == "http.route")
    include = route["values"][0]["filter"]["include"]
    assert include == "http.route=/v1/chat"
    found = api_alice.get("/api/v1/logs/search", {"q": include, **window}).json()["records"]
    assert len(found) == 2 and {r["attributes"]["http.route"] for r in found} == {"/v1/chat"}


# -- SQLite, in a child pytest (as tests/logs/test_sqlite_default.py) -----------------------------------

@pytest.mark.skipif(connection.vendor == "sqlite", reason="this run is on SQLite already: the tests ran directly")
def test_the_same_on_the_embedded_sqlite_default(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "PORTAL_DB_VENDOR_FILE", "LOGS_STORE")
           and not k.startswith("COV_CORE_")}
    env.update(PORTAL_VAR_DIR=str(tmp_path), PORTAL_DB_VENDOR_FILE=str(tmp_path / "vendor.txt"))
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "--no-cov", "-p", "no:cacheprovider",
                          "tests/logs/test_facets.py", "-k", "not clickhouse and not collector"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    tail = run.stdout[-3000:]
    assert run.returncode == 0, tail
    assert (tmp_path / "vendor.txt").read_text() == "sqlite"
    passed = re.search(r"(\d+) passed", tail)
    assert passed and int(passed.group(1)) >= 20, tail
