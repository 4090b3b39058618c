"""REST API: search, histogram, traces; parse errors with positions; org scoping and the OpenAPI schema."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.conftest import token_client
from tests.logs.conftest import NOW, make_log, make_span

pytestmark = pytest.mark.django_db
RANGE = {"start": (NOW - timedelta(hours=1)).isoformat(), "end": (NOW + timedelta(minutes=1)).isoformat()}
TRACE = "a1" * 16


@pytest.fixture
def data(store: Any, org_a: Any, org_b: Any) -> Any:
    store.write_logs([make_log(org_a, body=f"request {i} done", level="error" if i % 3 == 0 else "info",
                               time=NOW - timedelta(minutes=30 - i), correlation_id=f"req-{i}",
                               trace_id=TRACE if i == 5 else "")
                      for i in range(12)])
    store.write_logs([make_log(org_b, body="globex secret", level="error", correlation_id="req-1")])
    store.write_spans([make_span(org_a, TRACE, "01" * 8, name="GET /checkout", duration_ms=900),
                       make_span(org_a, TRACE, "02" * 8, parent_span_id="01" * 8, name="charge", status="error"),
                       make_span(org_b, "b2" * 16, "03" * 8, name="GET /globex")])
    return store


def test_search_pages_by_cursor(api_bob: APIClient, data: Any) -> None:
    resp = api_bob.get("/api/v1/logs/search", {"q": "level=info", "limit": 3, **RANGE})
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["org"] == "acme"
    assert [r["body"] for r in body["records"]] == ["request 11 done", "request 10 done", "request 8 done"]
    assert set(body["records"][0]) >= {"id", "time", "service", "level", "body", "trace_id", "span_id",
                                       "correlation_id", "user_id", "resource", "attributes"}
    seen = [r["body"] for r in body["records"]]
    while body["next_cursor"]:
        body = api_bob.get("/api/v1/logs/search", {"q": "level=info", "limit": 3, "cursor": body["next_cursor"],
                                                   **RANGE}).json()
        seen += [r["body"] for r in body["records"]]
    assert len(seen) == 8 and len(set(seen)) == 8


def test_search_filters_and_relative_times(api_bob: APIClient, data: Any) -> None:
    resp = api_bob.get("/api/v1/logs/search", {"q": "correlation_id=req-1", "start": "now-2h"})
    assert [r["body"] for r in resp.json()["records"]] == ["request 1 done"]
    resp = api_bob.get("/api/v1/logs/search/", {"q": '"request 5" OR cid=req-6', **RANGE})
    assert [r["body"] for r in resp.json()["records"]] == ["request 6 done", "request 5 done"]


def test_histogram(api_bob: APIClient, data: Any) -> None:
    resp = api_bob.get("/api/v1/logs/histogram", {"q": "", "buckets": 6, **RANGE})
    assert resp.status_code == 200
    body = resp.json()
    assert len(body["buckets"]) == 6 and body["total"] == 12
    assert sum(b["by_level"].get("error", 0) for b in body["buckets"]) == 4
    assert body["step_seconds"] == pytest.approx((61 * 60) / 6)


def test_trace_search_and_detail(api_bob: APIClient, data: Any) -> None:
    resp = api_bob.get("/api/v1/traces/search", {"q": "duration>500ms", **RANGE})
    assert resp.status_code == 200
    [t] = resp.json()["traces"]
    assert (t["trace_id"], t["root_name"], t["span_count"], t["error_count"]) == (TRACE, "GET /checkout", 2, 1)
    resp = api_bob.get(f"/api/v1/traces/{TRACE}")
    assert resp.status_code == 200
    assert [s["name"] for s in resp.json()["spans"]] == ["GET /checkout", "charge"]
    assert [r["body"] for r in resp.json()["logs"]] == ["request 5 done"]


@pytest.mark.parametrize(("params", "code", "position"), [
    ({"q": "level=error AND (service=x"}, "invalid_query", 26),
    ({"q": "latency>fast"}, "invalid_query", 8),
    ({"q": "level=loud"}, "invalid_query", 0),
    ({"q": 'body~"(?<!x"'}, "invalid_query", 5),
    ({"start": "yesterday"}, "invalid_time", None),
    ({"start": "now", "end": "now-1h"}, "invalid_range", None),
    ({"start": "now-400d"}, "range_too_large", None),
    ({"limit": "0"}, "invalid_limit", None),
    ({"limit": "abc"}, "invalid_limit", None),
    ({"cursor": "%%%"}, "invalid_cursor", None),
    ({"q": "a\x00b"}, "invalid_query", 1),
    ({"start": "now-99999999999999w"}, "invalid_time", None),
    ({"start": "1e30"}, "invalid_time", None),
])
def test_bad_input_is_a_clear_400(api_bob: APIClient, data: Any, params: dict[str, str], code: str,
                                  position: int | None) -> None:
    resp = api_bob.get("/api/v1/logs/search", params)
    assert resp.status_code == 400, resp.content
    err = resp.json()["error"]
    assert err["code"] == code
    if position is not None:
        assert err["details"]["position"] == position
        assert err["details"]["caret"] == " " * position + "^"


def test_bad_trace_id_and_buckets(api_bob: APIClient, data: Any) -> None:
    assert api_bob.get("/api/v1/traces/not-hex").json()["error"]["code"] == "invalid_trace_id"
    assert api_bob.get("/api/v1/logs/histogram", {"buckets": "100000"}).status_code == 400
    assert api_bob.get("/api/v1/traces/" + "f" * 32).status_code == 404


# -- isolation: another org's data is never visible, whatever is sent -----------------------------


def test_other_org_sees_nothing(api_alice: APIClient, api_charlie: APIClient, data: Any) -> None:
    body = api_charlie.get("/api/v1/logs/search", {"q": "", **RANGE}).json()
    assert [r["body"] for r in body["records"]] == ["globex secret"]
    assert api_alice.get("/api/v1/logs/search", {"q": "correlation_id=req-5", **RANGE}).json()["records"]
    assert api_charlie.get("/api/v1/logs/search", {"q": "correlation_id=req-5", **RANGE}).json()["records"] == []
    assert api_charlie.get("/api/v1/logs/histogram", {**RANGE}).json()["total"] == 1
    traces = api_charlie.get("/api/v1/traces/search", {**RANGE}).json()["traces"]
    assert [t["trace_id"] for t in traces] == ["b2" * 16]


def test_other_orgs_trace_is_404(api_charlie: APIClient, data: Any) -> None:
    resp = api_charlie.get(f"/api/v1/traces/{TRACE}")
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("path", ["/api/v1/logs/search", "/api/v1/logs/histogram", "/api/v1/traces/search"])
def test_naming_another_org_in_the_query_is_404(api_charlie: APIClient, data: Any, path: str) -> None:
    resp = api_charlie.get(path, {"q": "org=acme level=error", **RANGE})
    assert resp.status_code == 404
    resp = api_charlie.get(path, {"q": "org=globex level=error", **RANGE})  # their own: allowed, a no-op
    assert resp.status_code == 200


def test_other_orgs_search_cursor_is_404(api_bob: APIClient, api_charlie: APIClient, data: Any) -> None:
    cursor = api_bob.get("/api/v1/logs/search", {"limit": 2, **RANGE}).json()["next_cursor"]
    resp = api_charlie.get("/api/v1/logs/search", {"cursor": cursor, **RANGE})
    assert resp.status_code == 404


def test_other_orgs_context_and_tail_are_404(api_bob: APIClient, api_charlie: APIClient, data: Any) -> None:
    record_id = api_bob.get("/api/v1/logs/search", {"limit": 1, **RANGE}).json()["records"][0]["id"]
    assert api_bob.get(f"/api/v1/logs/context/{record_id}/").json()["record"]["id"] == record_id
    assert api_charlie.get(f"/api/v1/logs/context/{record_id}/").status_code == 404
    cursor = api_bob.get("/api/v1/logs/tail/").json()["cursor"]
    assert api_bob.get("/api/v1/logs/tail/", {"cursor": cursor}).status_code == 200
    assert api_charlie.get("/api/v1/logs/tail/", {"cursor": cursor}).status_code == 404


def test_session_user_acting_for_a_foreign_org_is_404(web_charlie: Client, data: Any) -> None:
    for path in ("/api/v1/logs/search", "/api/v1/logs/histogram", "/api/v1/traces/search", f"/api/v1/traces/{TRACE}"):
        assert web_charlie.get(path, HTTP_X_PORTAL_ORG="acme").status_code == 404, path


def test_staff_may_search_another_org_with_org(operator: Any, org_a: Any, data: Any) -> None:
    c = Client()
    c.force_login(operator)
    resp = c.get("/api/v1/logs/search", {"q": "org=globex", **RANGE}, HTTP_X_PORTAL_ORG="acme")
    assert resp.status_code == 200
    assert resp.json()["org"] == "globex"
    assert [r["body"] for r in resp.json()["records"]] == ["globex secret"]
    assert c.get("/api/v1/logs/search", {"q": "org=nope"}, HTTP_X_PORTAL_ORG="acme").status_code == 404
    assert c.get("/api/v1/logs/search", {"q": "org=acme OR org=globex"},
                 HTTP_X_PORTAL_ORG="acme").status_code == 400


def test_unauthenticated_and_ingest_tokens_are_refused(client: Client, ingest_a: str, data: Any) -> None:
    assert client.get("/api/v1/logs/search").status_code in (401, 403)
    assert client.get("/api/v1/logs/search", HTTP_AUTHORIZATION=f"Bearer {ingest_a}").status_code == 401


def test_read_token_may_search(org_a: Any, bob: Any, data: Any) -> None:
    assert token_client(org_a, bob, "read").get("/api/v1/logs/search").status_code == 200


def test_endpoints_are_in_the_openapi_schema(client: Client) -> None:
    resp = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert resp.status_code == 200
    import json

    paths = json.loads(resp.content)["paths"]
    for p in ("/api/v1/logs/search", "/api/v1/logs/histogram", "/api/v1/traces/search", "/api/v1/traces/{trace_id}"):
        assert p in paths, sorted(paths)
    params = {p["name"] for p in paths["/api/v1/logs/search"]["get"]["parameters"]}
    assert {"q", "start", "end", "limit", "cursor"} <= params
