"""The scrape-targets settings page in a real browser: add a target, see it scraped (up), see a refusal."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.browser.conftest import login
from tests.conftest import PASSWORD
from tests.metrics_in.test_scrape_targets import exporter  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_add_scrape_target_in_browser(live_server: Any, page: Any, output_dir: Any, prom: Any,
                                      exporter: str, alice: Any, settings: Any) -> None:  # noqa: F811
    settings.OUTBOUND_URL_ALLOW = ["127.0.0.1/32"]
    external: list[str] = []
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(live_server.url) else None)
    login(page, live_server.url, "alice@acme.example", PASSWORD)
    page.goto(live_server.url + "/o/acme/settings/scrape-targets/")
    page.fill("#id_name", "internal-db")
    page.fill("#id_address", "10.0.0.7:9187")
    page.click("#add-target button[type=submit]")
    assert "private address" in page.inner_text(".errorlist")
    page.fill("#id_name", "stock-exporter")
    page.fill("#id_address", exporter)
    page.fill("#id_interval_seconds", "5")
    page.fill("#id_labels", "team=warehouse")
    page.click("#add-target button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "stock-exporter" in page.inner_text("#targets")
    deadline = time.monotonic() + 30
    while "up" not in page.inner_text('tr[data-target="stock-exporter"] td:nth-child(3)'):
        assert time.monotonic() < deadline, page.inner_text("#targets")
        time.sleep(1)
        page.reload()
    page.screenshot(path=str(output_dir / "metrics_in_scrape_targets.png"), full_page=True)
    assert external == []
