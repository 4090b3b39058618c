"""Durations in the search language: `latency>500ms` finds a duration however the record spells it ("523ms",
"0.523s", `latency_ms: 523`, `http.server.request.duration: 0.523`), on the built-in store the test database
selects (PostgreSQL or SQLite: tests/logs/test_sqlite_default.py runs this file again on SQLite) and on the
ClickHouse store, each written through its own write path and read by SQL only."""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client, override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from logs_app.query import QueryError, parse
from logs_app.query.ast import Field
from logs_app.query.sql import compile_query
from logs_app.store import get_store
from logs_app.store.clickhouse_exec import ChdbExecutor
from logs_app.store.clickhouse_otel import ClickHouseOtelStore
from logs_app.store.durations import UNIT_NS
from logs_app.store.records import LogRecord
from portal.core.management.commands.demo_telemetry import otlp_bodies
from tests.logs import test_clickhouse_otel as otel_tests
from tests.logs.chstore import fresh_clickhouse_store
from tests.logs.conftest import NOW, make_log, post_otlp

T0, T1 = NOW - timedelta(hours=1), NOW + timedelta(minutes=1)
OPS: dict[str, Callable[[int, int], bool]] = {
    ">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
    "=": lambda a, b: a == b,
}


@pytest.fixture(params=["sql", "clickhouse"])
def store(request: Any) -> Any:
    """"sql" is PostgreSQL when the test database is, else SQLite."""
    return fresh_clickhouse_store() if request.param == "clickhouse" else get_store()


def _dec(us: int, places: int) -> str:
    """`us` microseconds as an exact decimal of 10^places of them (123456, 3 → "123.456")."""
    return format(Decimal(us).scaleb(-places), "f")


# Every way a record may hold a duration of `us` microseconds: (label, attribute, value), None when the form
# cannot write it exactly (minutes and hours of a duration that is not a whole number of them).
FORMS: list[Callable[[int], tuple[str, str, Any] | None]] = [
    lambda us: ("number of ms under latency_ms", "latency_ms", us / 1000),
    lambda us: ("integer ms under elapsed_ms", "elapsed_ms", us // 1000) if us % 1000 == 0 else None,
    lambda us: ("numeric string under duration_ms", "duration_ms", _dec(us, 3)),
    lambda us: ("seconds under http.server.request.duration", "http.server.request.duration", us / 1_000_000),
    lambda us: ("'…ms' under latency", "latency", f"{_dec(us, 3)}ms"),
    lambda us: ("'…s' under latency", "latency", f"{_dec(us, 6)}s"),
    lambda us: ("' … s ' with spaces under latency", "latency", f" {_dec(us, 6)} s "),
    lambda us: ("'…us' under latency", "latency", f"{us}us"),
    lambda us: ("'…µs' under latency", "latency", f"{us}µs"),
    lambda us: ("'…ns' under latency", "latency", f"{us * 1000}ns"),
    lambda us: ("plain number under latency (ms)", "latency", us / 1000),
    lambda us: ("numeric string under latency (ms)", "latency", _dec(us, 3)),
    lambda us: ("'…m' under duration", "duration", f"{us // 60_000_000}m") if us % 60_000_000 == 0 else None,
    lambda us: ("'…h' under elapsed", "elapsed", f"{_dec(us // 360_000_000, 1)}h")
    if us % 360_000_000 == 0 else None,
]


def _literal(us: int, unit: str) -> str:
    """`us` microseconds written exactly in `unit` (the caller picks a unit that divides it, or a power of ten)."""
    return format(Decimal(us * UNIT_NS["us"]) / UNIT_NS[unit], "f") + unit


_case_ids = itertools.count()
# Up to ~28 hours, biased to the small values logs carry; whole seconds and minutes now and then.
DURATION_US = st.one_of(st.integers(0, 10_000_000), st.integers(0, 100_000_000_000),
                        st.integers(0, 100).map(lambda m: m * 60_000_000),
                        st.integers(0, 1000).map(lambda s: s * 1_000_000))
UNITS = st.sampled_from(["ns", "us", "µs", "ms", "s", "m", "h"])


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(durations=st.lists(DURATION_US, min_size=1, max_size=3, unique=True), data=st.data())
@pytest.mark.django_db
def test_every_form_of_a_duration_matches_the_same_comparisons(store: Any, org_a: Any, durations: list[int],
                                                                data: Any) -> None:
    case = f"case-{next(_case_ids)}"
    records: list[LogRecord] = []
    written: dict[str, tuple[int, str, str]] = {}
    for i, us in enumerate(durations):
        for form in FORMS:
            made = form(us)
            if made is None:
                continue
            label, key, value = made
            cid = f"{case}-{len(records)}"
            written[cid] = (us, label, json.dumps(value, ensure_ascii=False))
            records.append(make_log(org_a, body=f"{case} duration {i}", correlation_id=cid, attributes={key: value}))
    store.write_logs(records)

    # Thresholds: the durations themselves (equality, boundaries), a microsecond either side, and any other.
    near = st.sampled_from(durations).flatmap(lambda us: st.sampled_from([us, us + 1, max(0, us - 1)]))
    for _ in range(2):
        threshold = data.draw(st.one_of(near, DURATION_US), label="threshold µs")
        units = [u for u in UNIT_NS if (threshold * UNIT_NS["us"]) % UNIT_NS[u] == 0 or u in ("ns", "us", "ms", "s")]
        unit = data.draw(st.sampled_from(sorted(units)), label="unit")
        literal = _literal(threshold, unit)
        for op, holds in OPS.items():
            page = store.search(org_a, f"cid~^{case}- latency{op}{literal}", T0, T1, limit=500)
            found = {r.correlation_id for r in page.records}
            expected = {cid for cid, (us, _, _) in written.items() if holds(us, threshold)}
            wrong = {written[c][1:] for c in found ^ expected}
            assert found == expected, f"latency{op}{literal}: these forms disagree with the truth: {wrong}"


def test_literal_helper_writes_exact_decimals() -> None:
    assert _literal(1_500_000, "s") == "1.5s"
    assert _literal(123, "ms") == "0.123ms"
    assert _literal(60_000_000, "m") == "1m"
    assert _literal(7, "ns") == "7000ns"


# -- which attributes a name covers ----------------------------------------------------------------------

@pytest.fixture
def mixed(store: Any, org_a: Any) -> Any:
    store.write_logs([
        make_log(org_a, body="string latency", attributes={"latency": "900ms"}),
        make_log(org_a, body="both, latency first", attributes={"latency": "100ms", "latency_ms": 900}),
        make_log(org_a, body="seconds", attributes={"http.server.request.duration": 0.75}),
        make_log(org_a, body="elapsed in minutes", attributes={"elapsed": "2m"}),
        make_log(org_a, body="no duration", attributes={"latency": "slow", "status": "500ms"}),
        make_log(org_a, body="a bool", attributes={"latency": True}),
    ])
    return store


@pytest.mark.django_db
@pytest.mark.parametrize(("query", "expected"), [
    ("latency>500ms", {"string latency", "seconds", "elapsed in minutes"}),
    ("duration>500ms", {"string latency", "seconds", "elapsed in minutes"}),
    ("latency>500", {"string latency", "seconds", "elapsed in minutes"}),  # a plain number is ms here
    ("NOT latency>500ms", {"both, latency first", "no duration", "a bool"}),
    ("latency_ms>500ms", {"both, latency first"}),
    ("latency_ms>500", {"both, latency first"}),
    ("http.server.request.duration>0.5", {"seconds"}),  # a configured attribute's own unit: seconds
    ("http.server.request.duration>500ms", {"seconds"}),
    ("http.server.request.duration>800ms", set()),
    ("attr.latency>500ms", {"string latency"}),  # the attribute `latency` alone
    ("attr.latency<=100ms", {"both, latency first"}),
    ("latency=900ms", {"string latency"}),
    ("latency=0.9s", {"string latency"}),
    ("latency=2m", {"elapsed in minutes"}),
    ("latency!=900ms", {"both, latency first", "seconds", "elapsed in minutes", "no duration", "a bool"}),
    ("latency=slow", {"no duration"}),  # not a number: text, as before
    ("status>100ms", {"no duration"}),  # any attribute compared with a unit is read as a duration
    ("status>=500", set()),  # without one it is a plain number, and "500ms" is not one
])
def test_names_and_attributes(mixed: Any, org_a: Any, query: str, expected: set[str]) -> None:
    assert {r.body for r in mixed.search(org_a, query, T0, T1).records} == expected
    assert mixed.count(org_a, query, T0, T1) == len(expected)


@pytest.mark.django_db
@override_settings(LOGS_DURATION_ATTRIBUTES={"took": "s"}, LOGS_DURATION_FIELDS=["latency"])
def test_the_attribute_map_is_configurable(store: Any, org_a: Any) -> None:
    store.write_logs([make_log(org_a, body="took", attributes={"took": 2}),
                      make_log(org_a, body="latency_ms", attributes={"latency_ms": 5000})])
    assert [r.body for r in store.search(org_a, "latency>1s", T0, T1).records] == ["took"]
    assert [r.body for r in store.search(org_a, "took>1.5", T0, T1).records] == ["took"]  # plain: seconds
    assert [r.body for r in store.search(org_a, "took>2.5", T0, T1).records] == []


@pytest.mark.django_db
def test_the_org_condition_stays(store: Any, org_a: Any, org_b: Any) -> None:
    store.write_logs([make_log(org_a, body="mine", attributes={"latency": "900ms"}),
                      make_log(org_b, body="theirs", attributes={"latency": "900ms"})])
    assert [r.body for r in store.search(org_a, "latency>500ms", T0, T1).records] == ["mine"]
    assert [r.body for r in store.search(org_b, "latency>500ms OR -latency>500ms", T0, T1).records] == ["theirs"]


@pytest.mark.django_db
def test_the_collectors_tables_read_durations_from_text(org_a: Any, org_b: Any) -> None:
    """The Collector's exporter keeps attributes as text (Map(String, String)): numbers arrive as "900"."""
    ex = fresh_clickhouse_store().executor
    assert isinstance(ex, ChdbExecutor)
    ex.execute(f"CREATE DATABASE IF NOT EXISTS {otel_tests.DB}")
    ex.execute(otel_tests.OTEL_LOGS_DDL)
    ex.execute(f"TRUNCATE TABLE {otel_tests.DB}.otel_logs")
    rows = []
    for i, (org, attrs) in enumerate([("acme", {"latency": "900ms"}), ("acme", {"latency_ms": "900"}),
                                      ("acme", {"http.server.request.duration": "0.75"}),
                                      ("acme", {"latency": "100ms", "latency_ms": "900"}),
                                      ("acme", {"latency": "fast"}), ("globex", {"latency": "2s"})]):
        rows.append({"Timestamp": otel_tests.ts(NOW - timedelta(minutes=10), i), "TraceId": "", "SpanId": "",
                     "TraceFlags": 0, "SeverityText": "INFO", "SeverityNumber": 9, "ServiceName": "api",
                     "Body": f"{org} {i}", "ResourceAttributes": {"org_id": org, "service.name": "api"},
                     "LogAttributes": attrs})
    otel_tests._insert(ex, "otel_logs", rows)
    store = ClickHouseOtelStore(ex, org_attribute="org_id", database=otel_tests.DB)
    assert sorted(r.body for r in store.search(org_a, "latency>500ms", T0, T1).records) == [
        "acme 0", "acme 1", "acme 2"]
    assert sorted(r.body for r in store.search(org_a, "latency_ms>=0.9s", T0, T1).records) == ["acme 1", "acme 3"]
    assert sorted(r.body for r in store.search(org_a, "NOT latency>500ms", T0, T1).records) == ["acme 3", "acme 4"]
    assert [r.body for r in store.search(org_b, "latency=2000ms", T0, T1).records] == ["globex 5"]


def test_keys_and_thresholds_are_bound_parameters() -> None:
    for vendor, key in (("postgresql", "latency"), ("sqlite", '$."latency"')):
        sql, params = compile_query("latency>=1.5s", vendor)
        assert "latency" not in sql and "1500000000" not in sql
        assert key in params and params[-1] == 1_500_000_000 - 0.5


# -- literals and their errors -----------------------------------------------------------------------------

@pytest.mark.parametrize(("query", "number", "unit"), [
    ("latency>500ms", 500.0, "ms"), ("duration>1.5s", 1500.0, "s"), ("latency<=200us", 0.2, "us"),
    ("latency<=200µs", 0.2, "µs"), ("latency>=2m", 120_000.0, "m"), ("latency<1h", 3_600_000.0, "h"),
    ("latency>250ns", 0.00025, "ns"), ("latency>500", 500.0, None), ("latency>.5s", 500.0, "s"),
    ("latency>1e3us", 1.0, "us"), ("latency>-5ms", -5.0, "ms"),
])
def test_duration_literals(query: str, number: float, unit: str | None) -> None:
    node = parse(query)
    assert isinstance(node, Field)
    assert node.number == pytest.approx(number) and node.unit == unit


@pytest.mark.parametrize(("query", "position", "message"), [
    ("latency>500xs", 8, "Unknown unit 'xs' in '500xs'; units: ns, us (µs), ms, s, m, h"),
    ("latency>5sec", 8, "Unknown unit 'sec' in '5sec'"),
    ("latency>fast", 8, "'>' needs a number or a duration such as 500ms (units: ns, us (µs), ms, s, m, h), "
                        "got 'fast'"),
    ("latency>1.2.3s", 8, "needs a number or a duration"),
    ('latency>"500ms"', 8, "needs a number or a duration"),
    ("latency>ms", 8, "needs a number or a duration"),
    ("latency>=1e30s", 9, "Duration '1e30s' is out of range"),
    ("latency>", 8, "Expected a value after '>'"),
])
def test_bad_literals_are_clear_errors(query: str, position: int, message: str) -> None:
    with pytest.raises(QueryError) as e:
        parse(query)
    assert message in e.value.message
    assert e.value.position == position


@pytest.mark.parametrize(("query", "message"), [
    ("latency=500xs", "Unknown unit 'xs'"),
    ("latency_ms!=1e40h", "out of range"),
    ("latency>1e40", "out of range"),  # a plain number is checked once it is a duration's
])
def test_bad_duration_values_fail_when_compiled(query: str, message: str) -> None:
    with pytest.raises(QueryError) as e:
        compile_query(query, "postgresql")
    assert message in e.value.message


def test_other_fields_keep_their_meaning() -> None:
    sql, params = compile_query("version=1x build=5m status>=500", "postgresql")
    assert params == ["version", "version", "1x", "build", "build", "5m", "status", "status", 500.0]
    assert "regexp_match" not in sql  # text equality and a plain number: no duration reading


@pytest.mark.django_db
def test_bad_literal_answers_400(api_bob: APIClient) -> None:
    resp = api_bob.get("/api/v1/logs/search", {"q": "latency>500xs"})
    assert resp.status_code == 400
    err = resp.json()["error"]
    assert err["code"] == "invalid_query" and "Unknown unit 'xs'" in err["message"]
    assert err["details"]["position"] == 8
    resp = api_bob.get("/api/v1/logs/search", {"q": "latency=12parsecs"})
    assert resp.status_code == 400 and "Unknown unit 'parsecs'" in resp.json()["error"]["message"]


# -- the demo's records --------------------------------------------------------------------------------------

def _demo_duration_ms(attrs: list[dict[str, Any]]) -> float | None:
    """The request duration the demo wrote into one log record's OTLP attributes, in ms (first one counts)."""
    values = {a["key"]: next(iter(a["value"].values())) for a in attrs}
    if "latency" in values:
        return float(values["latency"].removesuffix("ms"))
    if "latency_ms" in values:
        return float(values["latency_ms"])
    if "http.server.request.duration" in values:
        return float(values["http.server.request.duration"]) * 1000
    return None


@pytest.mark.django_db
def test_demo_records_are_found_by_latency(client: Client, api_bob: APIClient, org_a: Any, ingest_a: str) -> None:
    logs, _ = otlp_bodies(org_a.label_value, 60, random.Random(7))
    resp = post_otlp(client, "/otlp/v1/logs", json.dumps(logs).encode(), ingest_a, "application/json")
    assert resp.status_code == 200, resp.content
    sent: dict[str, tuple[float, str]] = {}
    for resource_logs in logs["resourceLogs"]:
        for record in resource_logs["scopeLogs"][0]["logRecords"]:
            ms = _demo_duration_ms(record["attributes"])
            if ms is not None:
                cid = next(a["value"]["stringValue"] for a in record["attributes"] if a["key"] == "correlation_id")
                sent[cid] = (ms, record["body"]["stringValue"])
    forms = {frozenset(a["key"] for a in r["attributes"]) & {"latency", "latency_ms", "http.server.request.duration"}
             for rl in logs["resourceLogs"] for r in rl["scopeLogs"][0]["logRecords"]}
    assert len(forms - {frozenset()}) == 3  # "123ms" (with latency_ms), latency_ms alone, seconds

    def found(q: str) -> set[str]:
        resp = api_bob.get("/api/v1/logs/search", {"q": q, "start": "now-1h", "limit": "500"})
        assert resp.status_code == 200, resp.content
        return {r["correlation_id"] for r in resp.json()["records"]}

    assert found("latency>100ms") == {cid for cid, (ms, _) in sent.items() if ms > 100}
    assert found("latency>100ms") >= {cid for cid, (ms, _) in sent.items() if ms > 500} != set()
    slow = {cid for cid, (_, body) in sent.items() if body.startswith("slow request")}
    served = {cid for cid, (_, body) in sent.items() if body.startswith("request served")}
    assert slow and slow <= found("latency>500ms") and not served & found("latency>500ms")
