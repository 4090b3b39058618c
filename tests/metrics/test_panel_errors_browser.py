"""Backend faults as the browser sees them: on a dashboard, a panel whose query fails (another org's
matcher → 400, the backend's own 400) shows the error in place while the other panels still load.
Real stack: live_server, real Prometheus with three orgs' data, Chromium."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests import procs
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.backends]

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]




def test_failing_panel_shows_its_error_others_load(transactional_db: Any, live_server: Any, prom_env: procs.Proc,
                                                    browser: Any, org_a: Any, alice: Any, output_dir: Path) -> None:
    services = pytest.importorskip("dashboards_app.services")
    doc = {"title": "Faults", "time": {"from": "now-15m", "to": "now"}, "panels": [
        {"id": 1, "title": "Good", "type": "timeseries", "targets": [{"expr": "sum(up)"}],
         "gridPos": {"x": 0, "y": 0, "w": 8, "h": 6}},
        {"id": 2, "title": "Foreign", "type": "timeseries", "targets": [{"expr": 'up{org_id="globex"}'}],
         "gridPos": {"x": 8, "y": 0, "w": 8, "h": 6}},
        {"id": 3, "title": "Backend rejects", "type": "timeseries", "targets": [{"expr": "mad_over_time(up[5m])"}],
         "gridPos": {"x": 16, "y": 0, "w": 8, "h": 6}},
    ]}
    from portal.tenancy.audit import Actor

    dash = services.create_dashboard(org_a, doc, Actor.of(alice))

    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    page = ctx.new_page()
    page.set_default_timeout(20000)
    page.goto(live_server.url + "/accounts/login/")
    page.fill("#id_username", "alice@acme.example")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    page.goto(f"{live_server.url}/o/acme/dashboards/{dash.uid}/")
    page.wait_for_function("() => document.querySelectorAll('#grid .panel-error').length >= 2")
    page.wait_for_function("() => Number(document.querySelector('#grid > .panel .panel-body').dataset.points || 0) > 0")
    page.screenshot(path=str(output_dir / "metrics-panel-errors.png"), full_page=True)

    panels = page.eval_on_selector_all("#grid > .panel", """els => els.map(e => ({
        title: e.querySelector('.panel-title').textContent,
        error: (e.querySelector('.panel-error') || {}).textContent || '',
        points: Number(e.querySelector('.panel-body').dataset.points || 0),
        xticks: [...e.querySelectorAll('.xtick text')].map(t => t.textContent)}))""")
    by_title = {p["title"]: p for p in panels}
    assert by_title["Good"]["points"] > 0 and not by_title["Good"]["error"]
    assert 'org_id="globex"' in by_title["Foreign"]["error"]
    assert "mad_over_time" in by_title["Backend rejects"]["error"]
    # A panel with nothing to draw shows no axes (Plotly's empty date axis would start in January 2000).
    assert by_title["Good"]["xticks"]
    assert not by_title["Foreign"]["xticks"] and not by_title["Backend rejects"]["xticks"]
    # The message is visible in place, inside its panel, not clipped below the chart.
    for err in page.locator("#grid .panel-error").all():
        assert err.is_visible()
        box = err.bounding_box()
        panel = err.locator("xpath=ancestor::div[contains(@class,'panel-body')]").bounding_box()
        assert box["y"] >= panel["y"] and box["y"] + min(box["height"], 20) <= panel["y"] + panel["height"]
    ctx.close()
