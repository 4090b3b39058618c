"""A dashboard panel opens the logs and traces behind it: the panel's service and the dashboard's window,
made absolute, in the link's URL (so a copied link means the same thing later)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests import procs
from tests.dashboards.test_browser import login, wait_loaded

pytestmark = [pytest.mark.browser, pytest.mark.backends]


def test_a_panel_opens_its_services_logs_and_traces(transactional_db: Any, live_server: Any, live_prom: procs.Proc,
                                                    browser: Any, alice: Any) -> None:
    page = login(browser, live_server.url, alice.email)
    page.goto(live_server.url + "/o/acme/dashboards/builtin/api-router/?from=now-30m&to=now")
    wait_loaded(page)
    panel = page.locator("#grid > .panel").first
    panel.locator("a.logs-link").hover()
    logs = urlsplit(panel.locator("a.logs-link").get_attribute("href"))
    params = {k: v[0] for k, v in parse_qs(logs.query).items()}
    assert logs.path == "/o/acme/logs/" and params["q"] == "service=api-router"
    start, end = (datetime.fromisoformat(params[k].replace("Z", "+00:00")) for k in ("start", "end"))
    assert end - start == timedelta(minutes=30) and abs(datetime.now(UTC) - end) < timedelta(minutes=5)
    panel.locator("a.traces-link").hover()
    traces = urlsplit(panel.locator("a.traces-link").get_attribute("href"))
    assert traces.path == "/o/acme/traces/" and parse_qs(traces.query)["service"] == ["api-router"]
    # Following it opens the page with that state: the search field and the range come from the URL.
    panel.locator("a.traces-link").click()
    page.wait_for_url("**/o/acme/traces/**")
    assert page.input_value("#service") == "api-router" and page.input_value("#range") == "custom"
    page.context.close()
