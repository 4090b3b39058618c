"""Log analytics in the explorer, in Debian's Chromium (Playwright): a facet value click filters the results
to it, its ⊖ excludes it, the counts-by-field chart stacks the top values, and a saved search is saved,
listed and opened again. Screenshots go to test-output/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from logs_app.saved_searches.models import SavedSearch
from tests.browser.conftest import signed_in
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
ROWS = "document.querySelectorAll('#results tr.rec').length"


@pytest.fixture
def page(browser: Any, live_server: Any, alice: Any, seeded: Any) -> Iterator[Any]:
    with signed_in(browser, live_server.url, alice.email, PASSWORD, height=1000) as p:
        yield p


def test_facet_click_filters_and_saved_search_reopens(page: Any, live_server: Any, org_a: Any, alice: Any,
                                                      output_dir: Path) -> None:
    page.goto(live_server.url + "/o/acme/logs/")
    page.wait_for_function(f"{ROWS} === 30")
    # The seeded records: 20 of api-router, 10 of user-service (tests/logs_explorer/conftest.py make_logs).
    services = page.locator("#facets .facet[data-field=service]")
    services.locator(".facet-in", has_text="user-service").wait_for()
    assert services.locator(".facet-row", has_text="api-router").locator(".cnt").inner_text() == "20"
    assert "all 30 matching records" in page.inner_text("#facets-note")
    page.wait_for_function("document.querySelectorAll('#counts-chart .bars path').length > 0")
    legend = page.locator("#counts-chart .legendtext").all_text_contents()
    assert sorted(legend) == ["api-router", "user-service"]
    page.screenshot(path=str(output_dir / "logs_explorer-analytics-1-facets-and-counts.png"), full_page=True)

    # Click a value: the query gets its term and the results hold only its records.
    services.locator(".facet-in", has_text="user-service").click()
    page.wait_for_function("document.getElementById('q').value === 'service=user-service'")
    page.wait_for_function(f"{ROWS} === 10")
    assert set(page.locator("#results tr.rec td:nth-child(3)").all_inner_texts()) == {"user-service"}
    assert page.inner_text("#total") == "10"
    # Exclude a level with ⊖: the records of that level go.
    # (the facets follow the search: wait for those of the filtered one)
    page.wait_for_function("document.getElementById('facets-note').textContent.includes('all 10 ')")
    levels = page.locator("#facets .facet[data-field=level]")
    levels.locator(".facet-row", has_text="info").wait_for()
    info_count = int(levels.locator(".facet-row", has_text="info").locator(".cnt").inner_text())
    levels.locator(".facet-row", has_text="info").locator(".facet-out").click()
    page.wait_for_function("document.getElementById('q').value === 'service=user-service -level=info'")
    page.wait_for_function(f"{ROWS} === {10 - info_count}")
    assert "INFO" not in page.locator("#results tr.rec .lvl").all_inner_texts()
    page.wait_for_function(f"document.getElementById('facets-note').textContent.includes('all {10 - info_count} ')")
    page.screenshot(path=str(output_dir / "logs_explorer-analytics-2-facet-filtered.png"), full_page=True)

    # Group the counts by an attribute instead.
    page.fill("#group-by", "http.status")
    page.dispatch_event("#group-by", "change")
    page.wait_for_function("Array.from(document.querySelectorAll('#counts-chart .legendtext'))"
                           ".map((n) => n.textContent).sort().join() === '200,500'")

    # Save the search, start over, open it from the list.
    page.select_option("#range", "6h")
    page.fill("#saved-name", "user-service without info")
    page.click("#save-search")
    page.wait_for_function("document.getElementById('saved-searches').selectedOptions[0].text"
                           ".startsWith('user-service without info')")
    saved = SavedSearch.objects.for_org(org_a).get()
    assert (saved.query, saved.window, saved.created_by) == ("service=user-service -level=info", "6h", alice)
    page.goto(live_server.url + "/o/acme/logs/")
    page.wait_for_function(f"{ROWS} === 30")
    page.select_option("#saved-searches", label="user-service without info (6h)")
    page.wait_for_function("document.getElementById('q').value === 'service=user-service -level=info'")
    page.wait_for_function(f"{ROWS} === {10 - info_count}")
    assert page.input_value("#range") == "6h"
    page.screenshot(path=str(output_dir / "logs_explorer-analytics-3-saved-search-opened.png"), full_page=True)
