"""Browser tests (Playwright + Debian Chromium) of dashboards and Explore on the live demo data.

Screenshots go to test-output/dashboards-*.png.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import procs
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.backends]

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield b
        b.close()


def login(browser: Any, base: str, email: str) -> Any:
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    page.set_default_timeout(20000)
    page.goto(base + "/accounts/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    return page


def wait_loaded(page: Any) -> None:
    page.wait_for_function("() => { const g = document.getElementById('grid'); return g && g.dataset.loaded !== '0'; }")
    assert page.get_attribute("#grid", "data-loaded") != "error", page.text_content("#dash-status")


def panel_points(page: Any) -> dict[str, int]:
    return page.eval_on_selector_all(
        "#grid > .panel", "els => Object.fromEntries(els.map(e => [e.querySelector('.panel-title').textContent,"
                  " Number(e.querySelector('.panel-body').dataset.points || 0)]))")  # type: ignore[no-any-return]


def test_org_admin_journey(transactional_db: Any, live_server: Any, live_prom: procs.Proc, browser: Any,
                           alice: Any, charlie: Any, output_dir: Path) -> None:
    base = live_server.url
    page = login(browser, base, "alice@acme.example")

    # Platform Overview: every panel has data points.
    page.goto(base + "/o/acme/dashboards/")
    page.click("text=Platform Overview")
    wait_loaded(page)
    points = panel_points(page)
    page.screenshot(path=str(output_dir / "dashboards-platform-overview.png"), full_page=True)
    assert len(points) == 7 and all(n > 0 for n in points.values()), points
    page.screenshot(path=str(output_dir / "dashboards-platform-overview.png"), full_page=True)

    # Change the time range: the URL and the data follow.
    page.select_option("#time-preset", "now-15m")
    page.wait_for_function("() => location.search.includes('from=now-15m')")
    wait_loaded(page)
    assert all(n > 0 for n in panel_points(page).values())
    page.select_option("#time-preset", "absolute")
    page.click("#abs-apply")
    page.wait_for_function("() => /from=\\d+/.test(location.search)")
    wait_loaded(page)
    assert all(n > 0 for n in panel_points(page).values())
    page.screenshot(path=str(output_dir / "dashboards-time-range.png"), full_page=True)

    # Create a dashboard with a KPI stat panel and a threshold.
    page.goto(base + "/o/acme/dashboards/")
    page.fill("#new-title", "Acme KPIs")
    page.click("#new-dashboard")
    page.wait_for_url(re.compile(r"/o/acme/dashboards/\w+/\?edit=1"))
    dash_url = page.url.split("?")[0]
    page.click("#add-panel")
    page.fill("#pe-title", "Active users KPI")
    page.select_option("#pe-type", "stat")
    page.select_option("#pe-unit", "short")
    page.fill("#pe-targets .pe-expr", "sum(active_users)")
    page.fill("#pe-thresholds", "base red\n10 green")
    page.wait_for_function("() => Number(document.getElementById('pe-preview').dataset.points || 0) > 0")
    page.screenshot(path=str(output_dir / "dashboards-panel-editor.png"))
    page.click("#pe-apply")
    page.click("#save-dashboard")
    page.wait_for_function("() => document.getElementById('dash-status').textContent.includes('Saved version 2')")

    page.goto(dash_url)
    wait_loaded(page)
    assert panel_points(page) == {"Active users KPI": 1}
    tile = page.locator(".stat-tile").first
    assert "rgb(46, 158, 79)" in (tile.get_attribute("style") or "")  # the green step: acme has > 10 users
    page.screenshot(path=str(output_dir / "dashboards-kpi-saved.png"), full_page=True)

    # A second org's user cannot open it.
    other = login(browser, base, "charlie@globex.example")
    resp = other.goto(dash_url)
    assert resp is not None and resp.status == 404
    resp = other.goto(dash_url.replace("/o/acme/", "/o/globex/"))
    assert resp is not None and resp.status == 404
    other.screenshot(path=str(output_dir / "dashboards-other-org-404.png"))
    other.context.close()
    page.context.close()
