"""The logs/traces/exports UI in Debian's Chromium (Playwright): search level=error, open a record, its
context, jump to its trace and see the waterfall, start an export and download it; histogram zoom, live
tail and correlation id; performance page. Screenshots go to test-output/."""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from logs_app.store import get_store
from tests.browser.conftest import login
from tests.conftest import PASSWORD
from tests.logs_explorer.conftest import TRACE_A, make_logs

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]




@pytest.fixture
def page(browser: Any, live_server: Any, alice: Any, settings: Any, seeded: Any) -> Iterator[Any]:
    settings.PORTAL_BASE_URL = live_server.url  # the download links point at the test server
    ctx = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    p = ctx.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    login(p, live_server.url, alice.email, PASSWORD)
    yield p
    ctx.close()
    assert errors == [], f"JavaScript errors: {errors}"


def test_search_record_trace_waterfall_export_download(page: Any, live_server: Any, output_dir: Path) -> None:
    page.goto(live_server.url + "/o/acme/logs/")
    page.fill("#q", "level=error")
    page.click("#run")
    page.wait_for_function("document.querySelectorAll('#results tr.rec').length === 6")
    assert set(page.locator("#results tr.rec .lvl").all_inner_texts()) == {"ERROR"}
    assert page.inner_text("#total") == "6"
    assert page.locator("#history-list .chip", has_text="level=error").count() == 1  # remembered
    page.screenshot(path=str(output_dir / "logs_explorer-1-search-level-error.png"), full_page=True)

    page.locator("#results tr.rec").first.click()
    detail = page.locator("#results tr.detail")
    detail.wait_for()
    assert "http.status" in detail.inner_text() and TRACE_A in detail.inner_text()
    detail.locator(".context-btn").click()
    detail.locator("table.ctx tr.here").wait_for()
    assert detail.locator("table.ctx tr").count() > 1
    page.screenshot(path=str(output_dir / "logs_explorer-2-record-expanded-context.png"), full_page=True)

    detail.locator("a.trace-link").click()
    page.wait_for_url(f"**/traces/{TRACE_A}/")
    page.wait_for_function("document.querySelectorAll('#waterfall .wf-row').length === 3")
    assert "auth.checked" in page.inner_text("#span-detail")  # the root span's event
    assert "http.route" in page.inner_text("#span-detail")
    assert page.locator("#trace-logs tr").count() == 6  # the trace's logs beside the waterfall
    page.locator("#waterfall .wf-row", has_text="GET /users/{id}").click()
    assert "user-service" in page.inner_text("#span-detail")
    page.screenshot(path=str(output_dir / "logs_explorer-3-trace-waterfall.png"), full_page=True)

    page.goto(live_server.url + "/o/acme/logs/?q=level%3Derror")
    page.wait_for_function("document.querySelectorAll('#results tr.rec').length === 6")
    page.click("#export")
    link = page.locator("#export-download")
    link.wait_for(timeout=20_000)
    with page.expect_download() as info:
        link.click()
    target = output_dir / "logs_explorer-export.csv.gz"
    info.value.save_as(str(target))
    rows = list(csv.DictReader(io.StringIO(gzip.decompress(target.read_bytes()).decode())))
    assert len(rows) == 6 and {r["level"] for r in rows} == {"error"}
    page.screenshot(path=str(output_dir / "logs_explorer-4-export-ready.png"), full_page=True)

    page.goto(live_server.url + "/o/acme/exports/")
    page.locator("#exports td.status.st-done").first.wait_for()
    page.screenshot(path=str(output_dir / "logs_explorer-5-exports-page.png"), full_page=True)


def test_histogram_zoom_tail_and_correlation(page: Any, live_server: Any, org_a: Any, output_dir: Path) -> None:
    page.goto(live_server.url + "/o/acme/logs/")
    page.wait_for_function("document.querySelectorAll('#results tr.rec').length === 30")
    # Click a bar of the histogram: the range becomes that bucket (custom range, zoom-out offered).
    bar = page.locator("#histogram .bars path").last
    box = bar.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] - 2)
    page.wait_for_function("!document.getElementById('zoom-out').hidden")
    assert page.input_value("#range") == "custom"
    # The range is now exactly the clicked bucket (1 h / 60 buckets = 60 s), and the page re-searched it.
    span = page.evaluate("(Date.parse(document.getElementById('to').value + 'Z') - "
                         "Date.parse(document.getElementById('from').value + 'Z')) / 1000")
    assert span == 60
    page.wait_for_function("String(document.getElementById('histogram').layout.xaxis.range[0]).replace('T', ' ')"
                           ".slice(0, 16) === document.getElementById('from').value.replace('T', ' ').slice(0, 16)")
    page.wait_for_function("document.querySelectorAll('#results tr.rec').length === "
                           "Number(document.getElementById('total').textContent)")
    shown = page.locator("#results tr.rec").count()
    assert 0 < shown <= 30 and page.inner_text("#total") == str(shown)
    page.screenshot(path=str(output_dir / "logs_explorer-6-histogram-zoomed.png"), full_page=True)
    page.click("#zoom-out")
    page.wait_for_function("document.querySelectorAll('#results tr.rec').length === 30")

    # One click from a record to every record with its correlation id.
    page.locator("#results tr.rec").first.click()
    page.locator("#results tr.detail .corr-link").click()
    page.wait_for_function("document.getElementById('q').value.startsWith('correlation_id=')")
    cid = page.input_value("#q").split('"')[1]
    page.wait_for_function("document.querySelectorAll('#results tr.rec').length > 0 && "
                           "!document.querySelector('#results tr.detail')")
    expected = sum(1 for r in make_logs(org_a, timezone.now()) if r.correlation_id == cid)
    page.wait_for_function(f"document.querySelectorAll('#results tr.rec').length === {expected}")

    # Live tail: new records appear without reloading.
    requested: list[str] = []
    page.on("request", lambda req: requested.append(req.url))
    page.fill("#q", "")
    page.click("#tail")
    page.wait_for_function("document.getElementById('tail').getAttribute('aria-pressed') === 'true'")
    page.wait_for_function("document.getElementById('tail-status').textContent.includes('waiting')")
    get_store().write_logs(make_logs(org_a, timezone.now(), n=4, prefix="tailed-"))
    page.locator("#results tr.rec", has_text="tailed-request 3").wait_for(timeout=10_000)
    # They came over the server-sent event stream, not by polling.
    assert any("/logs/tail/stream/" in url for url in requested)
    page.screenshot(path=str(output_dir / "logs_explorer-7-live-tail.png"), full_page=True)
    page.click("#tail")
    page.wait_for_timeout(1500)  # the server notices the closed stream at its next poll, before teardown


def test_traces_service_map_and_performance(page: Any, live_server: Any, output_dir: Path) -> None:
    page.goto(live_server.url + "/o/acme/traces/")
    page.wait_for_function("document.querySelectorAll('#traces tbody a').length === 1")
    page.fill("#min-duration", "3s")
    page.click("#trace-form button[type=submit]")
    page.locator("#traces td.empty").wait_for()
    page.fill("#min-duration", "2s")
    page.check("#errors-only")
    page.click("#trace-form button[type=submit]")
    page.wait_for_function("document.querySelectorAll('#traces tbody a').length === 1")
    assert "api-router → user-service" in page.inner_text("#edges")
    page.screenshot(path=str(output_dir / "logs_explorer-8-traces-service-map.png"), full_page=True)

    page.goto(live_server.url + "/o/acme/performance/")  # now the services list (tests/logs/test_service_page.py)
    page.wait_for_function("document.querySelectorAll('#services tr.svc').length === 2")
    assert "api-router" in page.locator("#services tr.svc").first.inner_text()
    page.screenshot(path=str(output_dir / "logs_explorer-9-performance.png"), full_page=True)


def test_a_parse_error_is_shown_under_the_cursor(page: Any, live_server: Any, output_dir: Path) -> None:
    query = "level=error AND (service=x"
    page.goto(live_server.url + "/o/acme/logs/")
    page.fill("#q", query)
    page.click("#run")
    box = page.locator("#query-error")
    box.wait_for(state="visible")
    query_line, caret_line = box.locator("pre").inner_text().split("\n")[:2]
    assert query_line == query
    assert caret_line.endswith("^") and len(caret_line) - 1 == len(query)  # the caret under the missing ")"
    page.screenshot(path=str(output_dir / "logs_explorer-parse-error.png"))
