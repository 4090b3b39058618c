"""Service pages: the store's per-service aggregates on a known span set (PostgreSQL or SQLite, whichever the
run is on, and ClickHouse in process; SQLite again in a child pytest when this run is on PostgreSQL; the
Collector's tables), org isolation, the JSON API, the old performance API computed by the store, the pages
(and a screenshot in Chromium)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from logs_app import performance
from logs_app.store import get_store
from logs_app.store.base import LogStore
from logs_app.store.records import LogRecord, SpanRecord
from logs_app.store.service_stats import QUANTILES, ServiceStats
from portal.backends.alertmanager import AlertmanagerClient
from tests.logs.chstore import RecordingExecutor, fresh_clickhouse_store
from tests.logs.test_clickhouse_otel import T0 as OTEL_T0
from tests.logs.test_clickhouse_otel import T1 as OTEL_T1
from tests.logs.test_clickhouse_otel import otel, use_store  # noqa: F401 - the fixture, for the Collector test

ROOT = Path(__file__).resolve().parents[2]
# The window of the known set: an hour in six 10-minute buckets, ending a minute from now (whole seconds).
END = timezone.now().replace(microsecond=0) + timedelta(minutes=1)
START = END - timedelta(hours=1)
ROUTE = {"http.route": "/v1/models", "http.request.method": "GET"}


def pct(values: list[float], q: float) -> float:
    """The reference: linear interpolation between the nearest ranks (percentile_cont)."""
    s = sorted(values)
    h = (len(s) - 1) * q
    lo = int(h)
    return s[lo] + (s[lo + 1] - s[lo]) * (h - lo) if lo + 1 < len(s) else s[lo]


def span(org: Any, i: int, ms: float, minute: float, *, service: str = "api-router", name: str = "GET /v1/models",
         kind: str = "server", status: str = "ok", parent: int | None = None,
         attrs: dict[str, Any] | None = None) -> SpanRecord:
    """Span `i` of trace `i`, or a child of span `parent` in the parent's trace."""
    start = START + timedelta(minutes=minute)
    trace = i if parent is None else parent
    return SpanRecord(org_id=org.pk, trace_id=f"{org.pk:08x}{trace:024x}", span_id=f"{i:016x}",
                      parent_span_id="" if parent is None else f"{parent:016x}",
                      name=name, start=start, end=start + timedelta(milliseconds=ms), service=service, kind=kind,
                      status=status, attributes=ROUTE if attrs is None else attrs)


def known_set(org: Any, other: Any) -> dict[str, Any]:
    """Org A: api-router with 40 GET /v1/models (10..400 ms, every 4th an error), 7 POST /v1/chat, 1 internal
    root span (a request too), 5 client child spans (not requests); user-service with 3 requests. Org B: the
    same service names with other numbers, which must never be counted for A."""
    spans: list[SpanRecord] = []
    models = [10.0 * (k + 1) for k in range(40)]
    for k, ms in enumerate(models):  # minutes 0..39: buckets 0-3
        spans.append(span(org, k, ms, minute=k + 0.5, status="error" if k % 4 == 0 else "ok"))
    chat = [100.0, 200.0, 300.0, 400.0, 500.0, 600.0, 5000.0]
    for k, ms in enumerate(chat):  # minutes 45..51: buckets 4-5
        spans.append(span(org, 100 + k, ms, minute=45 + k, name="POST /v1/chat", status="error" if k < 3 else "ok",
                          attrs={"http.route": "/v1/chat", "http.method": "POST"}))
    spans.append(span(org, 200, 75.0, minute=55, kind="internal", name="cron tick", attrs={}))
    client = [5.0, 6.0, 7.0, 8.0, 900.0]
    for k, ms in enumerate(client):
        spans.append(span(org, 300 + k, ms, minute=46 + k, kind="client", name="SELECT users", parent=100 + k,
                          attrs={"db.system": "postgresql"}))
    for k in range(3):
        spans.append(span(org, 400 + k, 30.0 + k, minute=50 + k, service="user-service", name="GET /users/{id}",
                          parent=100 + k, attrs={"http.route": "/users/{id}", "http.request.method": "GET"}))
    # Outside the window: never counted.
    spans.append(span(org, 500, 99_000.0, minute=-5))
    spans.append(span(org, 501, 99_000.0, minute=61))
    foreign = [span(other, 600 + k, 77_777.0, minute=10 + k, status="error") for k in range(9)]
    foreign.append(span(other, 700, 10.0, minute=12, service="billing", name="POST /charge", attrs={}))
    requests = models + chat + [75.0]
    return {"spans": spans + foreign, "models": models, "chat": chat, "client": client, "requests": requests,
            "errors": 10 + 3}


def check_aggregates(st: ServiceStats, org: Any, other: Any, data: dict[str, Any]) -> None:
    approx = pytest.approx
    requests = data["requests"]

    # The services list: A's two services, B's own.
    listed = st.services(org, START, END)
    assert [name for name, _ in listed] == ["api-router", "user-service"]
    router = dict(listed)["api-router"]
    assert (router.count, router.errors) == (len(requests), data["errors"])
    assert router.error_share == approx(13 / 48)
    assert [router.p50_ms, router.p95_ms, router.p99_ms] == approx([pct(requests, q) for q in QUANTILES])
    assert router.max_ms == approx(5000.0)
    assert [(n, lat.count) for n, lat in st.services(other, START, END)] == [("api-router", 9), ("billing", 1)]

    totals = st.totals(org, "api-router", START, END)
    assert totals == router
    assert st.totals(org, "billing", START, END).count == 0  # B's service, seen from A

    # Per bucket: 10-minute buckets; the models requests fill buckets 0-3 (10 each), chat and cron 4-5.
    step, series = st.series(org, "api-router", START, END, buckets=6)
    assert step == 600_000_000 and [t for t, _ in series] == [START + timedelta(minutes=10 * i) for i in range(6)]
    assert [lat.count for _, lat in series] == [10, 10, 10, 10, 5, 3]
    assert [lat.errors for _, lat in series] == [3, 2, 3, 2, 3, 0]
    for b in range(4):
        values = data["models"][10 * b:10 * b + 10]
        assert [series[b][1].p50_ms, series[b][1].p95_ms, series[b][1].p99_ms] == approx(
            [pct(values, q) for q in QUANTILES])
    assert series[5][1].p95_ms == approx(pct([*data["chat"][5:], 75.0], 0.95))

    # Top endpoints by count, with error share and p95; B's 77 s requests never in them.
    top = st.endpoints(org, START, END, service="api-router", limit=2)
    assert [(ep, lat.count, lat.errors) for _, ep, lat in top] == [("GET /v1/models", 40, 10), ("POST /v1/chat", 7, 3)]
    assert top[0][2].p95_ms == approx(pct(data["models"], 0.95)) and top[1][2].p95_ms == approx(pct(data["chat"], 0.95))
    by_p95 = st.endpoints(org, START, END, service="api-router", by="p95")
    assert [ep for _, ep, _ in by_p95] == ["POST /v1/chat", "GET /v1/models", "cron tick"]
    one = st.endpoints(org, START, END, service="api-router", endpoint="cron tick")
    assert [ep for _, ep, _ in one] == ["cron tick"]

    # Slowest operations: every span of the service, client spans included.
    ops = st.operations(org, "api-router", START, END, limit=3)
    assert [name for name, _ in ops] == ["POST /v1/chat", "SELECT users", "GET /v1/models"]
    assert ops[1][1].count == 5 and ops[1][1].p95_ms == approx(pct(data["client"], 0.95))

    slow = st.requests(org, "api-router", START, END, failed=False, limit=2)
    assert [(r.endpoint, r.duration_ms) for r in slow] == [("POST /v1/chat", approx(5000.0)),
                                                           ("POST /v1/chat", approx(600.0))]
    failed = st.requests(org, "api-router", START, END, failed=True, limit=50)
    assert len(failed) == 13 and {r.status for r in failed} == {"error"}
    assert [r.start for r in failed] == sorted((r.start for r in failed), reverse=True)
    assert all(r.trace_id.startswith(f"{org.pk:08x}") for r in slow + failed)

    counts = st.endpoint_histogram(org, "api-router", "GET /v1/models", START, END, [50, 100, 1000])
    assert counts == [5, 5, 30, 0]

    assert st.exists(org, "user-service") and not st.exists(other, "user-service") and not st.exists(org, "billing")
    nodes, edges = st.service_map(org, START, END)
    assert nodes == [("api-router", 53, 13), ("user-service", 3, 0)]
    assert edges == [("api-router", "user-service", 3, 0, approx(31.0))]


@pytest.fixture
def known(org_a: Any, org_b: Any) -> Iterator[tuple[LogStore, dict[str, Any]]]:
    store = get_store()
    data = known_set(org_a, org_b)
    store.write_spans(data["spans"])
    yield store, data
    for org in (org_a, org_b):
        store.delete_older_than(org, END + timedelta(days=1))


# -- the aggregates on each store --------------------------------------------------------------------------

@pytest.mark.django_db
def test_store_aggregates_on_the_sql_store(known: tuple[LogStore, dict[str, Any]], org_a: Any, org_b: Any) -> None:
    store, data = known
    check_aggregates(store.service_stats(), org_a, org_b, data)


@pytest.mark.django_db
def test_store_aggregates_on_clickhouse_with_the_org_in_every_statement(org_a: Any, org_b: Any) -> None:
    store = fresh_clickhouse_store(recording=True)
    data = known_set(org_a, org_b)
    store.write_spans(data["spans"])
    recorder = store.executor
    assert isinstance(recorder, RecordingExecutor)
    recorder.statements.clear()  # the schema check the store made when it was built
    check_aggregates(store.service_stats(), org_a, org_b, data)
    reads = recorder.statements
    assert len(reads) >= 15
    for sql, params in reads:
        tables = len(re.findall(r"FROM logs_(?:span|record) WHERE org_id = \{(p\d+):Int64\}", sql))
        assert tables >= 1 and tables == len(re.findall(r"FROM logs_(?:span|record)\b", sql)), sql
        orgs = {params[k] for k in re.findall(r"FROM logs_(?:span|record) WHERE org_id = \{(p\d+):Int64\}", sql)}
        assert orgs <= {org_a.pk, org_b.pk} and len(orgs) == 1, sql
        assert "api-router" not in sql  # values are parameters, never text


@pytest.mark.django_db
def test_store_aggregates_on_the_collector_tables(otel: Any, org_a: Any, org_b: Any,  # noqa: F811
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    st = otel.service_stats()
    [(name, lat)] = st.services(org_a, OTEL_T0, OTEL_T1)
    assert (name, lat.count, lat.errors, lat.p95_ms) == ("api-router", 1, 1, pytest.approx(250.0))
    assert [(op, o.count) for op, o in st.operations(org_a, "checkout", OTEL_T0, OTEL_T1)] == [("charge", 1)]
    assert [ep for _, ep, _ in st.endpoints(org_a, OTEL_T0, OTEL_T1)] == ["POST /v1/chat"]
    assert st.exists(org_b, "checkout") and not st.exists(org_b, "nobody")
    assert st.service_map(org_b, OTEL_T0, OTEL_T1)[1] == [("api-router", "checkout", 1, 0, pytest.approx(40.0))]
    use_store(monkeypatch, otel)
    assert performance.analyse(org_b, performance.window_from({"since": "1h", "end": OTEL_T1.isoformat()})
                               ).endpoints[0]["count"] == 1


@pytest.mark.django_db  # only so that the session's database setup runs when this test runs alone
@pytest.mark.skipif(connection.vendor == "sqlite", reason="this run is on SQLite already: the tests above ran on it")
def test_store_aggregates_on_the_embedded_sqlite_default(tmp_path: Path) -> None:
    """The SQLite store's percentile SQL (ordered-rank selection) in a child pytest on a fresh SQLite database."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "PORTAL_DB_VENDOR_FILE", "LOGS_STORE")
           and not k.startswith("COV_CORE_")}
    env.update(PORTAL_VAR_DIR=str(tmp_path), PORTAL_DB_VENDOR_FILE=str(tmp_path / "vendor.txt"))
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "--no-cov", "-p", "no:cacheprovider",
                          f"{__file__}::test_store_aggregates_on_the_sql_store",
                          f"{__file__}::test_service_api_and_org_isolation"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    tail = run.stdout[-3000:]
    assert run.returncode == 0, tail
    assert (tmp_path / "vendor.txt").read_text() == "sqlite"
    assert re.search(r"\b2 passed", tail), tail


# -- the API and the pages ---------------------------------------------------------------------------------

WINDOW = {"start": START.isoformat(), "end": END.isoformat()}


@pytest.mark.django_db
def test_service_api_and_org_isolation(known: tuple[LogStore, dict[str, Any]], api_alice: Any, api_charlie: Any,
                                       web_alice: Any, web_charlie: Any, org_a: Any, settings: Any) -> None:
    settings.ALERTMANAGER_URL = ""  # no Alertmanager: the page says so, the rest is served
    store, data = known
    store.write_logs([LogRecord(org_id=org_a.pk, time=START + timedelta(minutes=50), body="upstream timeout",
                                service="api-router", level="error", trace_id=f"{org_a.pk:08x}{100:024x}"),
                      LogRecord(org_id=org_a.pk, time=START + timedelta(minutes=51), body="all fine",
                                service="api-router", level="info")])
    listed = api_alice.get("/api/v1/services/", WINDOW).json()["services"]
    assert [(s["service"], s["count"], s["error_share"]) for s in listed] == [
        ("api-router", 48, pytest.approx(13 / 48, abs=1e-4)), ("user-service", 3, 0.0)]
    assert listed[0]["rate_per_s"] == pytest.approx(48 / 3600, rel=1e-3)
    assert [s["service"] for s in api_charlie.get("/api/v1/services", WINDOW).json()["services"]] == [
        "api-router", "billing"]

    s = api_alice.get("/api/v1/services/api-router/summary", {**WINDOW}).json()
    assert s["totals"]["count"] == 48 and s["totals"]["p95_ms"] == pytest.approx(pct(data["requests"], 0.95), abs=1e-3)
    assert len(s["series"]) == 60 and sum(b["count"] for b in s["series"]) == 48 and s["step_seconds"] == 60
    assert s["endpoints"][0]["endpoint"] == "GET /v1/models" and s["operations"][0]["name"] == "POST /v1/chat"
    assert s["slowest_traces"][0]["duration_ms"] == 5000.0 and len(s["failed_traces"]) == 10
    assert [r["body"] for r in s["error_logs"]] == ["upstream timeout"]
    assert s["alerts"] == {"available": True, "message": "", "alerts": []}
    assert s["dashboards"][0] == {"title": "API Router", "url": "/o/acme/dashboards/builtin/api-router/"}
    assert s["metrics"]["available"] is False and s["metrics"]["points"] == []

    # Empty window: the service is known, its numbers are zero.
    empty = api_alice.get("/api/v1/services/api-router/summary/", {"start": "2026-01-01T00:00:00Z",
                                                                   "end": "2026-01-01T01:00:00Z"}).json()
    assert empty["totals"]["count"] == 0 and empty["endpoints"] == [] and empty["slowest_traces"] == []

    # Another org's service, or none at all: 404 in the API and on the page; a bad window is a 400.
    for client, name in ((api_charlie, "user-service"), (api_alice, "billing"), (api_alice, "nope")):
        resp = client.get(f"/api/v1/services/{name}/summary", WINDOW)
        assert resp.status_code == 404 and resp.json()["error"]["code"] == "not_found", name
    assert api_alice.get("/api/v1/services/api-router/summary", {"since": "forever"}).status_code == 400
    assert api_alice.get("/api/v1/services/", {"since": "99999999999d"}).status_code == 400

    assert web_alice.get("/o/acme/services/api-router/").status_code == 200
    assert web_alice.get("/o/acme/services/").status_code == 200
    assert web_alice.get("/o/acme/performance/").status_code == 200  # the services list took its place
    assert web_alice.get("/o/acme/services/billing/").status_code == 404
    assert web_charlie.get("/o/globex/services/user-service/").status_code == 404
    assert web_charlie.get("/o/acme/services/api-router/").status_code == 404


@pytest.mark.django_db
def test_old_performance_api_is_computed_by_the_store(known: tuple[LogStore, dict[str, Any]],
                                                      api_alice: Any, api_charlie: Any) -> None:
    _, data = known
    rep = api_alice.get("/api/v1/performance/", WINDOW).json()
    by = {(e["service"], e["endpoint"]): e for e in rep["endpoints"]}
    assert set(by) == {("api-router", "GET /v1/models"), ("api-router", "POST /v1/chat"),
                       ("api-router", "cron tick"), ("user-service", "GET /users/{id}")}
    models = by[("api-router", "GET /v1/models")]
    assert (models["count"], models["errors"], models["error_rate"]) == (40, 10, 0.25)
    assert models["p99_ms"] == pytest.approx(pct(data["models"], 0.99), abs=1e-3)
    assert rep["slowest"][0]["endpoint"] == "POST /v1/chat" and rep["complete"] is True
    assert {e["endpoint"] for e in api_charlie.get("/api/v1/performance/", WINDOW).json()["endpoints"]} == {
        "GET /v1/models", "POST /charge"}
    h = api_alice.get("/api/v1/performance/histogram/", {**WINDOW, "service": "api-router",
                                                          "endpoint": "POST /v1/chat"}).json()
    assert h["count"] == 7 and [b["count"] for b in h["buckets"] if b["count"]] == [1, 1, 3, 1, 1]


@pytest.mark.django_db
def test_active_alerts_of_the_service_come_from_alertmanager_for_the_org_only(
        known: tuple[LogStore, dict[str, Any]], alertmanager: Any, settings: Any, api_alice: Any,
        org_a: Any, org_b: Any) -> None:
    from metrics_app.labels import org_label

    settings.ALERTMANAGER_URL = alertmanager.url
    am = AlertmanagerClient(alertmanager.url)
    starts = (timezone.now() - timedelta(minutes=5)).isoformat()

    def alert(name: str, **labels: str) -> dict[str, Any]:
        return {"labels": {"alertname": name, "severity": "critical", **labels}, "startsAt": starts,
                "annotations": {"summary": f"{name} firing"}}

    am.post_alerts(*org_label(org_a), [alert("RouterErrors", service="api-router"),
                                       alert("RouterSlow", service_name="api-router"),
                                       alert("UsersDown", service="user-service")])
    am.post_alerts(*org_label(org_b), [alert("GlobexRouter", service="api-router")])

    def names() -> list[str]:
        summary = api_alice.get("/api/v1/services/api-router/summary", WINDOW).json()
        return sorted(a["name"] for a in summary["alerts"]["alerts"])

    deadline = timezone.now() + timedelta(seconds=10)
    while names() != ["RouterErrors", "RouterSlow"] and timezone.now() < deadline:
        time.sleep(0.2)  # Alertmanager may show posted alerts only after its next aggregation
    assert names() == ["RouterErrors", "RouterSlow"]


# -- the page in Chromium ----------------------------------------------------------------------------------

@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_service_page_renders(browser: Any, live_server: Any, alice: Any, org_a: Any, org_b: Any,
                              output_dir: Path, settings: Any) -> None:
    from tests.browser.conftest import login
    from tests.conftest import PASSWORD

    settings.ALERTMANAGER_URL = ""
    store = get_store()
    # Recent spans (the page's default window is the last hour), one error log.
    now = timezone.now().replace(microsecond=0)
    shifted = []
    for s in known_set(org_a, org_b)["spans"]:
        delta = now - END
        s.start, s.end = s.start + delta, s.end + delta
        shifted.append(s)
    store.write_spans(shifted)
    store.write_logs([LogRecord(org_id=org_a.pk, time=now - timedelta(minutes=3), body="upstream timeout",
                                service="api-router", level="error", trace_id=shifted[40].trace_id)])
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        login(page, live_server.url, alice.email, PASSWORD)
        page.goto(live_server.url + "/o/acme/performance/")
        page.wait_for_function("document.querySelectorAll('#services tr.svc').length === 2")
        assert "api-router" in page.locator("#services tr.svc").first.inner_text()
        page.screenshot(path=str(output_dir / "services-1-list.png"), full_page=True)
        page.locator("#services tr.svc a", has_text="api-router").click()
        page.wait_for_url(re.compile(r"/o/acme/services/api-router/\?since=1h"))
        page.wait_for_function("document.querySelectorAll('#endpoints tr.ep').length === 3")
        page.wait_for_function("document.querySelectorAll('#chart-latency .scatterlayer .trace').length === 3")
        assert "48" in page.inner_text("#headline")
        assert "upstream timeout" in page.inner_text("#error-logs")
        assert "POST /v1/chat" in page.locator("#slowest tr.tr-slow").first.inner_text()
        shown = page.get_attribute("#headline", "data-start")
        page.select_option("#range", "6h")
        page.wait_for_url(re.compile(r"since=6h"))
        page.wait_for_function(f"document.getElementById('headline').dataset.start !== '{shown}'")
        assert "0.002 req/s" in page.inner_text("#headline")  # 48 requests in 6 hours
        page.wait_for_function("document.querySelectorAll('#failed tr.tr-failed').length === 10")
        page.screenshot(path=str(output_dir / "services-2-service-page.png"), full_page=True)
        page.locator("#slowest a").first.click()
        page.wait_for_url(re.compile(r"/o/acme/traces/[0-9a-f]{32}/"))
        assert errors == [], errors
    finally:
        ctx.close()
        for org in (org_a, org_b):
            store.delete_older_than(org, now + timedelta(days=1))
