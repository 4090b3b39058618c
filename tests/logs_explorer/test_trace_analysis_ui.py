"""Trace analysis through the API and in the browser: self time and critical path on the waterfall,
two traces compared side by side, and the exceptions view; each org sees only its own."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from logs_app.store.records import SpanEvent, SpanRecord
from tests.browser.conftest import signed_in
from tests.conftest import PASSWORD
from tests.logs_explorer.conftest import TRACE_A, TRACE_B, make_trace

TRACE_A2 = "a" * 31 + "3"


def _failing(org: Any, trace_id: str, now: Any, kind: str, service: str = "api-router") -> SpanRecord:
    start = now - timedelta(seconds=30)
    return SpanRecord(org_id=org.pk, trace_id=trace_id, span_id="00000000000000e1", name="POST /v1/chat",
                      start=start, end=start + timedelta(milliseconds=80), service=service, kind="server",
                      status="error", events=[SpanEvent(start + timedelta(milliseconds=70), "exception",
                                                        {"exception.type": kind, "exception.message": "boom"})])


@pytest.fixture
def analysed(seeded: dict[str, Any], org_a: Any, org_b: Any) -> dict[str, Any]:
    store, now = seeded["store"], seeded["now"]
    store.write_spans(make_trace(org_a, TRACE_A2, now, slow_ms=900))  # the same shape, faster
    store.write_spans([_failing(org_a, "e" * 32, now, "TimeoutError"), _failing(org_b, "f" * 32, now, "GlobexOnly")])
    return seeded


@pytest.mark.django_db
def test_trace_detail_has_self_time_and_the_critical_path(api_alice: Any, analysed: Any) -> None:
    spans = {s["name"]: s for s in api_alice.get(f"/api/v1/traces/{TRACE_A}").json()["spans"]}
    root, users, select = spans["POST /v1/chat"], spans["GET /users/{id}"], spans["SELECT users"]
    assert (root["self_ms"], users["self_ms"], select["self_ms"]) == (2350.0, 100.0, 50.0)
    # Root 0-2500 ms waits for SELECT (120-170) then GET /users (10-110): the three cover the whole trace.
    assert (root["critical_ms"], users["critical_ms"], select["critical_ms"]) == (2350.0, 100.0, 50.0)


@pytest.mark.django_db
def test_compare_two_traces_and_only_the_orgs_own(api_alice: Any, api_charlie: Any, analysed: Any) -> None:
    r = api_alice.get("/api/v1/traces/compare", {"a": TRACE_A, "b": TRACE_A2})
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["a"]["duration_ms"], body["b"]["duration_ms"]) == (2500.0, 900.0)
    first = body["operations"][0]
    assert (first["name"], first["self_ms_a"], first["self_ms_b"], first["self_delta_ms"]) == \
        ("POST /v1/chat", 2350.0, 750.0, -1600.0)
    # Another org's trace (on either side) is a 404, as an unknown one; a missing id is a 400 naming it.
    assert api_alice.get("/api/v1/traces/compare", {"a": TRACE_A, "b": TRACE_B}).status_code == 404
    assert api_charlie.get("/api/v1/traces/compare", {"a": TRACE_B, "b": TRACE_A}).status_code == 404
    missing = api_alice.get("/api/v1/traces/compare", {"a": TRACE_A})
    assert missing.status_code == 400 and missing.json()["error"]["details"]["param"] == "b"
    assert api_alice.get("/api/v1/traces/compare", {"a": TRACE_A, "b": "zz"}).status_code == 400


@pytest.mark.django_db
def test_exceptions_api_is_the_orgs_own(api_alice: Any, api_charlie: Any, analysed: Any) -> None:
    mine = api_alice.get("/api/v1/traces/exceptions", {"start": "now-1h"}).json()
    assert [(g["type"], g["service"], g["count"]) for g in mine["groups"]] == [("TimeoutError", "api-router", 1)]
    assert mine["groups"][0]["examples"][0]["trace_id"] == "e" * 32 and sum(mine["groups"][0]["series"]) == 1
    theirs = api_charlie.get("/api/v1/traces/exceptions", {"start": "now-1h"}).json()
    assert [g["type"] for g in theirs["groups"]] == ["GlobexOnly"]
    # An org user naming another org in the query gets the 404 of an org that does not exist for them.
    assert api_charlie.get("/api/v1/traces/exceptions", {"q": "org=acme"}).status_code == 404
    bad = api_alice.get("/api/v1/traces/exceptions", {"q": "duration>fast"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_query"


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["traces/exceptions/", f"traces/compare/?a={TRACE_A}&b={TRACE_A2}"])
def test_pages_render_for_members_and_404_for_others(web_alice: Any, web_charlie: Any, analysed: Any,
                                                      page: str) -> None:
    assert web_alice.get(f"/o/acme/{page}").status_code == 200
    assert web_charlie.get(f"/o/acme/{page}").status_code == 404
    # In their own org, a compare naming acme's traces is a 404 too.
    if "compare" in page:
        assert web_charlie.get(f"/o/globex/{page}").status_code == 404


# -- in the browser ------------------------------------------------------------------------------------

@pytest.fixture
def page(browser: Any, live_server: Any, alice: Any, analysed: Any) -> Iterator[Any]:
    with signed_in(browser, live_server.url, alice.email, PASSWORD) as p:
        yield p


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_critical_path_compare_and_exceptions_in_the_browser(page: Any, live_server: Any,
                                                             output_dir: Path) -> None:
    page.goto(f"{live_server.url}/o/acme/traces/{TRACE_A}/")
    page.wait_for_function("document.querySelectorAll('#waterfall .wf-row').length === 3")
    assert page.locator("#waterfall .wf-row.crit").count() == 3
    assert "critical path 3 spans" in page.inner_text("#trace-summary")
    page.locator("#waterfall .wf-row", has_text="SELECT users").click()
    assert "self time" in page.inner_text("#span-detail") and "50" in page.inner_text("#span-detail")
    page.screenshot(path=str(output_dir / "trace-analysis-1-critical-path.png"), full_page=True)

    page.fill("#compare-with", TRACE_A2)
    page.click("#compare-form button")
    page.wait_for_url("**/traces/compare/**")
    page.wait_for_function("document.querySelectorAll('#compare-ops tbody tr').length === 3")
    first = page.locator("#compare-ops tbody tr").first
    assert "POST /v1/chat" in first.inner_text()
    assert first.locator("td.better").inner_text().startswith("-1.6")  # B spent 1.6 s less in it
    assert page.locator("#compare-chart .main-svg").count() > 0
    page.screenshot(path=str(output_dir / "trace-analysis-2-compare.png"), full_page=True)

    page.goto(f"{live_server.url}/o/acme/traces/exceptions/?range=6h")
    page.wait_for_function("document.querySelectorAll('#exc-groups tbody tr').length === 1 && "
                           "!document.querySelector('#exc-groups td.empty')")
    row = page.locator("#exc-groups tbody tr").first.inner_text()
    assert "TimeoutError" in row and "api-router" in row and "GlobexOnly" not in page.content()
    assert page.locator("#exc-chart .main-svg").count() > 0
    assert "range=6h" in page.url  # the view's state is in the URL
    page.screenshot(path=str(output_dir / "trace-analysis-3-exceptions.png"), full_page=True)
    page.locator("#exc-groups tbody tr a.mono").first.click()
    page.wait_for_url(f"**/traces/{'e' * 32}/")
