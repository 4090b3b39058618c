"""Context, tail, trace, performance and service-map endpoints and the pages; each with its cross-org 404."""

from __future__ import annotations

from typing import Any

import pytest

from logs_app.store import get_store
from tests.logs_explorer.conftest import TRACE_A, TRACE_B, make_logs

pytestmark = pytest.mark.django_db


def _a_record_id(org: Any, seeded: Any, q: str = "level=error") -> str:
    from datetime import timedelta

    page = get_store().search(org, q, seeded["now"] - timedelta(hours=1), seeded["now"] + timedelta(minutes=1))
    return page.records[0].id


def test_context_same_service_around_record(api_alice: Any, org_a: Any, seeded: Any) -> None:
    rid = _a_record_id(org_a, seeded, "service=api-router")
    data = api_alice.get(f"/api/v1/logs/context/{rid}/?before=3&after=2").json()
    assert data["record"]["id"] == rid
    assert len(data["before"]) == 3 and len(data["after"]) <= 2
    assert {r["service"] for r in data["before"] + data["after"]} == {"api-router"}
    times = [r["time"] for r in data["before"]] + [data["record"]["time"]] + [r["time"] for r in data["after"]]
    assert times == sorted(times)
    assert api_alice.get(f"/api/v1/logs/context/{rid}/?before=1000").status_code == 400


def test_context_of_another_org_is_404(api_charlie: Any, api_alice: Any, org_a: Any, seeded: Any) -> None:
    rid = _a_record_id(org_a, seeded)
    assert api_alice.get(f"/api/v1/logs/context/{rid}/").json()["record"]["id"] == rid
    resp = api_charlie.get(f"/api/v1/logs/context/{rid}/")
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "not_found"
    assert api_alice.get("/api/v1/logs/context/garbage/").status_code == 404


def test_tail_streams_new_records_and_is_org_bound(api_alice: Any, api_charlie: Any, org_a: Any, org_b: Any,
                                                   seeded: Any) -> None:
    first = api_alice.get("/api/v1/logs/tail/?q=level=error").json()
    assert first["records"] == [] and first["cursor"]
    from django.utils import timezone

    get_store().write_logs(make_logs(org_a, timezone.now(), n=10, prefix="fresh-"))
    get_store().write_logs(make_logs(org_b, timezone.now(), n=10, prefix="other-"))
    page = api_alice.get("/api/v1/logs/tail/", {"q": "level=error", "cursor": first["cursor"]}).json()
    assert [r["body"] for r in page["records"]] == ["fresh-request 3 handled", "fresh-request 8 handled"]
    again = api_alice.get("/api/v1/logs/tail/", {"q": "level=error", "cursor": page["cursor"]}).json()
    assert again["records"] == []
    # Another org polling with A's cursor learns nothing: 404, as for any other org's object.
    resp = api_charlie.get("/api/v1/logs/tail/", {"cursor": first["cursor"]})
    assert resp.status_code == 404
    assert api_alice.get("/api/v1/logs/tail/", {"q": "level=("}).status_code == 400


def test_one_record_shape_in_search_context_tail_and_trace(api_alice: Any, org_a: Any, seeded: Any) -> None:
    """A log record is the same JSON object wherever the API hands it out."""
    from django.utils import timezone

    first = api_alice.get("/api/v1/logs/tail/", {"q": "level=error"}).json()
    get_store().write_logs(make_logs(org_a, timezone.now(), n=10, prefix="shape-"))
    tailed = api_alice.get("/api/v1/logs/tail/", {"q": "level=error", "cursor": first["cursor"]}).json()["records"]
    record = tailed[0]
    assert record["trace_id"] == TRACE_A and record["time"].endswith("Z")
    assert set(record) == {"id", "time", "service", "level", "severity_number", "body", "trace_id", "span_id",
                           "correlation_id", "user_id", "resource", "attributes"}
    searched = api_alice.get("/api/v1/logs/search", {"q": "level=error", "start": "now-5m"}).json()["records"]
    context = api_alice.get(f"/api/v1/logs/context/{record['id']}/").json()["record"]
    in_trace = api_alice.get(f"/api/v1/traces/{TRACE_A}").json()["logs"]
    assert [r for r in searched if r["id"] == record["id"]] == [record]
    assert context == record
    assert [r for r in in_trace if r["id"] == record["id"]] == [record]


def test_trace_detail_and_its_isolation(api_alice: Any, api_charlie: Any, seeded: Any) -> None:
    data = api_alice.get(f"/api/v1/traces/{TRACE_A}/").json()
    assert len(data["spans"]) == 3 and data["spans"][0]["events"][0]["name"] == "auth.checked"
    assert all(r["trace_id"] == TRACE_A for r in data["logs"]) and data["logs"]
    assert api_charlie.get(f"/api/v1/traces/{TRACE_A}/").status_code == 404
    assert api_charlie.get(f"/api/v1/traces/{TRACE_B}/").json()["spans"], "B does not see its own trace"
    assert api_alice.get(f"/api/v1/traces/{TRACE_B}/").status_code == 404


def test_trace_search_by_service_duration_status_attribute(api_alice: Any, seeded: Any) -> None:
    def found(q: str) -> list[str]:
        return [t["trace_id"] for t in api_alice.get("/api/v1/traces/search/", {"q": q}).json()["traces"]]

    assert found("duration>2s") == [TRACE_A]
    assert found("service=user-service") == [TRACE_A]
    assert found('name="POST /v1/chat" status=error') == [TRACE_A]
    assert found("db.system=postgresql") == [TRACE_A]
    assert found("duration>3s") == []


def test_performance_per_endpoint(api_alice: Any, api_charlie: Any, seeded: Any) -> None:
    rep = api_alice.get("/api/v1/performance/", {"since": "1h"}).json()
    by = {(e["service"], e["endpoint"]): e for e in rep["endpoints"]}
    chat = by[("api-router", "POST /v1/chat")]
    assert chat["count"] == 1 and chat["error_rate"] == 1.0 and chat["p95_ms"] == pytest.approx(2500.0)
    users = by[("user-service", "GET /users/{id}")]
    assert users["p50_ms"] == pytest.approx(100.0) and users["error_rate"] == 0.0
    assert ("api-router", "SELECT users") not in by  # a client span is not an endpoint request
    assert rep["slowest"][0]["endpoint"] == "POST /v1/chat"
    assert chat["throughput_rps"] == pytest.approx(1 / 3600, rel=1e-3)
    # Globex's own trace: only its numbers (300 ms), never Acme's.
    other = api_charlie.get("/api/v1/performance/", {"since": "1h"}).json()
    assert [e["p95_ms"] for e in other["endpoints"] if e["endpoint"] == "POST /v1/chat"] == [pytest.approx(300.0)]
    h = api_alice.get("/api/v1/performance/histogram/", {"service": "api-router", "endpoint": "POST /v1/chat"}).json()
    assert h["count"] == 1 and next(b for b in h["buckets"] if b["count"])["le_ms"] == 5000
    assert api_alice.get("/api/v1/performance/histogram/").status_code == 400
    assert api_alice.get("/api/v1/performance/", {"since": "forever"}).status_code == 400
    assert api_alice.get("/api/v1/performance/", {"start": "2026-01-02T00:00:00Z",
                                                  "end": "2026-01-01T00:00:00Z"}).status_code == 400


def test_service_map_edges_across_services(api_alice: Any, seeded: Any) -> None:
    m = api_alice.get("/api/v1/service-map/").json()
    assert [n["service"] for n in m["nodes"]] == ["api-router", "user-service"]
    assert m["edges"] == [{"source": "api-router", "target": "user-service", "calls": 1, "errors": 0,
                           "avg_ms": 100.0}]


@pytest.mark.parametrize("page", ["logs/", "traces/", f"traces/{TRACE_A}/", "performance/", "exports/"])
def test_pages_render_for_members_and_404_for_others(web_alice: Any, web_charlie: Any, seeded: Any,
                                                      page: str) -> None:
    assert web_alice.get(f"/o/acme/{page}").status_code == 200
    assert web_charlie.get(f"/o/acme/{page}").status_code == 404


def test_trace_page_of_another_org_is_404(web_charlie: Any, seeded: Any) -> None:
    assert web_charlie.get(f"/o/globex/traces/{TRACE_A}/").status_code == 404
    assert web_charlie.get(f"/o/globex/traces/{TRACE_B}/").status_code == 200
    assert web_charlie.get("/o/globex/traces/not-a-trace/").status_code == 404


@pytest.mark.parametrize("params", [{"since": "99999999999d"}, {"start": "1e30"}, {"end": "2026-13-45T00:00:00"},
                                    {"start": "0001-01-01T00:00:00Z", "since": "1h"}, {"since": "-5m"}])
def test_performance_bad_windows_are_400(api_alice: Any, params: dict[str, str]) -> None:
    resp = api_alice.get("/api/v1/performance/", params)
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid"


def test_export_since_overflow_is_400(api_alice: Any) -> None:
    resp = api_alice.post("/api/v1/exports/", {"query": "", "since": "999999999 00:00:00",
                                               "end": "0002-01-01T00:00:00Z"}, format="json")
    assert resp.status_code == 400


def test_performance_counts_every_span_in_the_window(api_alice: Any, org_a: Any, org_b: Any) -> None:
    """Spans are streamed from the store, not sampled by trace: 2,500 traces all count."""
    from datetime import timedelta

    from django.utils import timezone

    from logs_app.store import get_store
    from logs_app.store.records import SpanRecord

    now = timezone.now()
    spans = [SpanRecord(org_id=org_a.pk, trace_id=f"{i:032x}", span_id=f"{i:016x}", name="GET /v1/models",
                        start=now - timedelta(seconds=600 - i * 0.2), end=now - timedelta(seconds=600 - i * 0.2 - 0.05),
                        service="api-router", kind="server", status="error" if i % 10 == 0 else "ok",
                        attributes={"http.route": "/v1/models", "http.request.method": "GET"})
             for i in range(2500)]
    store = get_store()
    store.write_spans(spans)
    store.write_spans([SpanRecord(org_id=org_b.pk, trace_id="f" * 32, span_id="f" * 16, name="GET /v1/models",
                                  start=now - timedelta(seconds=5), end=now, service="api-router", kind="server",
                                  attributes={"http.route": "/v1/models", "http.request.method": "GET"})])
    try:
        rep = api_alice.get("/api/v1/performance/", {"since": "1h"}).json()
        row = next(e for e in rep["endpoints"] if e["endpoint"] == "GET /v1/models")
        assert rep["complete"] is True
        assert row["count"] == 2500 and row["error_rate"] == pytest.approx(0.1)
        assert row["p50_ms"] == pytest.approx(50.0, abs=1)
    finally:
        for org in (org_a, org_b):
            store.delete_older_than(org, timezone.now() + timedelta(days=1))


def test_tail_stream_sends_new_records_as_server_sent_events(web_alice: Any, web_charlie: Any, org_a: Any,
                                                              org_b: Any, now: Any) -> None:
    import re

    from logs_app.store import get_store
    from tests.logs_explorer.conftest import make_logs

    def read(url: str, **headers: str) -> tuple[Any, str]:
        r = web_alice.get(url, **headers)
        return r, b"".join(r.streaming_content).decode()

    r, body = read("/o/acme/logs/tail/stream/?seconds=0")
    assert r["Content-Type"] == "text/event-stream" and "event: records" not in body
    cursor = re.search(r"^id: (\S+)$", body, re.M).group(1)
    get_store().write_logs(make_logs(org_a, now, n=3, prefix="streamed-"))
    get_store().write_logs(make_logs(org_b, now, n=3, prefix="globex-streamed-"))
    _, body = read(f"/o/acme/logs/tail/stream/?seconds=0&cursor={cursor}")
    assert "event: records" in body and "streamed-request 2" in body and "globex-" not in body
    # EventSource resumes with Last-Event-ID: nothing is sent twice.
    next_cursor = re.search(r"^id: (\S+)$", body, re.M).group(1)
    _, again = read("/o/acme/logs/tail/stream/?seconds=0", HTTP_LAST_EVENT_ID=next_cursor)
    assert "event: records" not in again
    # Another org's page, a foreign or broken cursor and a bad query are plain 4xx, not a broken stream.
    assert web_charlie.get("/o/acme/logs/tail/stream/").status_code == 404
    assert web_charlie.get(f"/o/globex/logs/tail/stream/?cursor={cursor}").status_code == 404
    assert web_alice.get("/o/acme/logs/tail/stream/?cursor=garbage").status_code == 404
    assert web_alice.get("/o/acme/logs/tail/stream/", {"q": "level="}).status_code == 400
