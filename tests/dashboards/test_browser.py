"""Browser tests (Playwright + Debian Chromium) of dashboards and Explore on the live demo data.

Screenshots go to test-output/dashboards-*.png.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from dashboards_app import builtin
from tests import procs
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.backends]

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]




def login(browser: Any, base: str, email: str) -> Any:
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    # Generous: pages wait for live data, and the tests share a small machine; the assertions are on data.
    page.set_default_timeout(60000)
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
    overview = builtin.get("platform-overview")
    assert overview is not None
    assert len(points) == len(overview["panels"]) and all(n > 0 for n in points.values()), points
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
    assert "#2e9e4f" in (tile.get_attribute("style") or "")  # the green step: acme has > 10 users
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


def test_explore_autocomplete_history_views_and_error_position(transactional_db: Any, live_server: Any,
                                                                  live_prom: procs.Proc, browser: Any, alice: Any,
                                                                  output_dir: Path) -> None:
    page = login(browser, live_server.url, "alice@acme.example")
    page.goto(live_server.url + "/o/acme/explore/")
    editor = page.locator("#promql")
    # Metric names.
    editor.click()
    editor.type("router_req")
    page.wait_for_selector("#suggestions li[data-value='router_requests_total']")
    page.screenshot(path=str(output_dir / "dashboards-explore-autocomplete.png"))
    page.keyboard.press("Tab")
    assert editor.input_value() == "router_requests_total"
    # Label names of that metric, then its values.
    editor.type("{mo")
    page.wait_for_selector("#suggestions li[data-value='model']")
    page.keyboard.press("Enter")
    editor.type('="gpt')
    page.wait_for_selector("#suggestions li[data-value='gpt-4o']")
    page.keyboard.press("Enter")
    editor.type("}")
    assert editor.input_value() == 'router_requests_total{model="gpt-4o"}'
    labels = page.evaluate("() => fetch('/api/v1/explore/labels/org_id/values/', {headers: {'X-Portal-Org': 'acme'}})"
                           ".then(r => r.json())")
    assert labels["results"] == ["acme"]
    # Graph view.
    page.click("#run-query")
    page.wait_for_function("() => Number(document.getElementById('result-graph').dataset.points || 0) > 0")
    page.screenshot(path=str(output_dir / "dashboards-explore-graph.png"))
    # Table view.
    page.check("input[name=view][value=table]")
    page.wait_for_selector("#explore-table tbody tr")
    assert 'model="gpt-4o"' in page.text_content("#explore-table")
    # History (per user, newest first); clicking an entry runs it again.
    page.wait_for_selector("#history li")
    assert page.locator("#history li").first.text_content() == 'router_requests_total{model="gpt-4o"}'
    # A parse error is shown at the parser's position.
    editor.fill("sum(rate(http_requests_total[5m])")
    page.click("#run-query")
    page.wait_for_selector("#query-error:not([hidden]) .error-position")
    pos = int(page.get_attribute("#query-error", "data-position") or "-1")
    assert 0 <= pos <= len("sum(rate(http_requests_total[5m])")
    assert page.evaluate("() => document.getElementById('promql').selectionStart") == pos
    # The message shown is the API's own (the kernel's ApiError), not a generic one.
    api_error = page.evaluate("() => fetch('/api/v1/explore/query/?query=' + encodeURIComponent("
                              "'sum(rate(http_requests_total[5m])'), {headers: {'X-Portal-Org': 'acme'}})"
                              ".then(r => r.json()).then(b => b.error)")
    assert api_error["code"] and page.text_content("#query-error .msg") == api_error["message"]
    page.screenshot(path=str(output_dir / "dashboards-explore-error.png"))
    page.context.close()


def test_dashboard_interactions(transactional_db: Any, live_server: Any, live_prom: procs.Proc, browser: Any,
                                alice: Any, org_a: Any, output_dir: Path) -> None:
    """Variables, full screen, legend toggle, Explore link, drag and resize saved, clone, auto refresh."""
    from dashboards_app import services

    page = login(browser, live_server.url, "alice@acme.example")
    base = live_server.url + "/o/acme/dashboards/"
    # Built-in API Router: the model variable narrows the "Requests by model" panel.
    page.goto(base + "builtin/api-router/")
    wait_loaded(page)
    page.select_option("#var-model", ["gpt-4o"])
    page.wait_for_function("() => location.search.includes('var-model=gpt-4o')")
    wait_loaded(page)
    page.wait_for_function("() => document.querySelector('[data-panel-id=\"2\"] .legendtext')")
    names = page.eval_on_selector_all("[data-panel-id='2'] .legendtext", "els => els.map(e => e.textContent)")
    assert names == ["gpt-4o"]
    # Legend toggle hides the legend of a panel.
    page.click("[data-panel-id='1'] .legend-toggle")
    page.wait_for_function("() => !document.querySelector('[data-panel-id=\"1\"] .legend .traces')")
    # Full screen, then Escape.
    page.click("[data-panel-id='3'] .fullscreen-toggle")
    box = page.locator("[data-panel-id='3']").bounding_box()
    assert box is not None and box["width"] > 1200
    page.screenshot(path=str(output_dir / "dashboards-fullscreen.png"))
    page.keyboard.press("Escape")
    assert page.locator("[data-panel-id='3']").bounding_box()["width"] < 800  # type: ignore[index]
    # The Explore link carries the panel's query.
    href = page.get_attribute("[data-panel-id='1'] .explore-link", "href") or ""
    assert href.startswith("/o/acme/explore/?query=") and "http_server_request_duration_seconds_count" in href
    # Clone the built-in, then drag and resize a panel and save.
    page.click("#clone-builtin")
    page.wait_for_url(re.compile(r"/o/acme/dashboards/\w+/$"))
    wait_loaded(page)
    uid = page.url.rstrip("/").rsplit("/", 1)[1]
    page.click("#edit-toggle")
    head = page.locator("[data-panel-id='1'] .panel-head")
    hb = head.bounding_box()
    assert hb is not None
    page.mouse.move(hb["x"] + 40, hb["y"] + 10)
    page.mouse.down()
    page.mouse.move(hb["x"] + 40 + 0, hb["y"] + 10 + 30 * 30, steps=5)  # 30 rows down
    page.mouse.up()
    handle = page.locator("[data-panel-id='2'] .resize-handle").bounding_box()
    assert handle is not None
    page.mouse.move(handle["x"] + 5, handle["y"] + 5)
    page.mouse.down()
    page.mouse.move(handle["x"] + 5, handle["y"] + 5 + 4 * 30, steps=5)  # 4 rows taller
    page.mouse.up()
    page.click("#save-dashboard")
    page.wait_for_function("() => document.getElementById('dash-status').textContent.includes('Saved version 2')")
    page.screenshot(path=str(output_dir / "dashboards-dragged.png"), full_page=True)
    saved = services.get_dashboard(org_a, uid).spec["panels"]
    assert saved[0]["gridPos"]["y"] >= 24 and saved[1]["gridPos"]["h"] == 12
    # Auto refresh reloads the data by itself.
    page.goto(base + uid + "/?refresh=5s")
    wait_loaded(page)
    first = page.get_attribute("#grid", "data-loaded")
    page.wait_for_function(f"() => document.getElementById('grid').dataset.loaded !== '{first}' && "
                           "document.getElementById('grid').dataset.loaded !== '0'", timeout=15000)
    page.context.close()


def test_import_export_units_and_threshold_lines(transactional_db: Any, live_server: Any, live_prom: procs.Proc,
                                                 browser: Any, alice: Any, output_dir: Path) -> None:
    import json

    page = login(browser, live_server.url, "alice@acme.example")
    # Units on axes and threshold lines on the built-in Platform Overview.
    page.goto(live_server.url + "/o/acme/dashboards/builtin/platform-overview/")
    wait_loaded(page)
    ids = {p["title"]: p["id"] for p in (builtin.get("platform-overview") or {"panels": []})["panels"]}
    latency, errors = ids["Latency p95 per service"], ids["5xx share per service"]
    latency_ticks = page.eval_on_selector_all(f"[data-panel-id='{latency}'] .ytick text",
                                              "els => els.map(e => e.textContent)")
    assert any(t.endswith("s") for t in latency_ticks), latency_ticks
    error_ticks = page.eval_on_selector_all(f"[data-panel-id='{errors}'] .ytick text",
                                            "els => els.map(e => e.textContent)")
    assert any(t.endswith("%") for t in error_ticks), error_ticks
    # The 5 % error threshold is drawn as a line; the 5 s latency threshold of "your latency" too.
    assert page.locator(f"[data-panel-id='{errors}'] .shapelayer path").count() == 1
    assert page.locator(f"[data-panel-id='{ids['p95 latency by service']}'] .shapelayer path").count() == 1
    # The saturation table colours its cells by the thresholds.
    cells = page.eval_on_selector_all(f"[data-panel-id='{ids['Saturation (used / limit)']}'] td.num",
                                      "els => els.map(e => e.getAttribute('style') || '')")
    assert len(cells) == 12 and all("background" in c for c in cells), cells
    # Import a Grafana dashboard with an unsupported panel through the UI.
    grafana = {"schemaVersion": 39, "title": "From Grafana", "panels": [
        {"type": "piechart", "title": "Pie", "gridPos": {"x": 0, "y": 0, "w": 12, "h": 6}, "targets": []},
        {"type": "timeseries", "title": "Routes", "gridPos": {"x": 12, "y": 0, "w": 12, "h": 6},
         "fieldConfig": {"defaults": {"unit": "reqps"}},
         "targets": [{"expr": "sum by (http_route) (rate(http_server_request_duration_seconds_count"
                              "[$__rate_interval]))", "legendFormat": "{{http_route}}"}]}]}
    page.goto(live_server.url + "/o/acme/dashboards/")
    page.click("summary")
    page.fill("#import-json", json.dumps(grafana))
    page.click("#import-button")
    page.wait_for_url(re.compile(r"/o/acme/dashboards/\w+/$"))
    wait_loaded(page)
    assert "piechart" in page.text_content("[data-panel-id='1'] .placeholder")
    assert int(page.get_attribute("[data-panel-id='2'] .panel-body", "data-points") or 0) > 0
    page.screenshot(path=str(output_dir / "dashboards-imported.png"), full_page=True)
    # Export downloads the portal JSON.
    with page.expect_download() as dl:
        page.click("#export-link")
    exported = json.loads(Path(dl.value.path()).read_text())
    assert exported["format"] == "portal-dashboard/v1" and exported["dashboard"]["title"] == "From Grafana"
    page.context.close()


# How each panel type shows that it drew: a Plotly plot with traces, stat tiles, table rows.
_DREW = """(node) => {
    const body = node.querySelector('.panel-body');
    const type = node.dataset.panelType;
    const drew = type === 'stat' ? body.querySelectorAll('.stat-tile').length
        : type === 'table' ? body.querySelectorAll('table tbody tr').length
        : (body.classList.contains('js-plotly-plot') && body.querySelector('.main-svg') ? (body.data || []).length : 0);
    return {title: node.querySelector('.panel-title').textContent, type, drew,
            points: Number(body.dataset.points || 0), nodata: !!body.querySelector('.nodata'),
            error: (body.querySelector('.panel-error') || {}).textContent || '',
            tiles: [...body.querySelectorAll('.stat-tile .stat-value')].map(e => e.textContent)};
}"""


def test_every_builtin_dashboard_draws_every_panel_for_an_org_viewer(
        transactional_db: Any, live_server: Any, live_prom: procs.Proc, browser: Any, bob: Any,
        output_dir: Path) -> None:
    """An org viewer (no staff rights) opens every built-in dashboard: every panel drew data, none says
    "No data" or shows an error, and the platform's side is visible through the platform series."""
    page = login(browser, live_server.url, "bob@acme.example")
    slugs = [slug for slug, _ in builtin.all_builtins()]
    assert {"platform-overview", "api-router", "user-org-service", "analytics-service", "performance"} <= set(slugs)
    for slug, doc in builtin.all_builtins():
        page.goto(live_server.url + f"/o/acme/dashboards/builtin/{slug}/")
        wait_loaded(page)
        drawn = [page.eval_on_selector(f"#grid > .panel[data-panel-id='{p['id']}']", _DREW)
                 for p in doc["panels"] if p["type"] not in ("text", "placeholder")]
        page.screenshot(path=str(output_dir / f"dashboards-viewer-{slug}.png"), full_page=True)
        bad = [d for d in drawn if not d["drew"] or d["points"] <= 0 or d["nodata"] or d["error"]]
        assert not bad, (slug, bad)
        if slug == "platform-overview":
            side = next(d for d in drawn if d["title"] == "Where is the problem?")
            assert side["tiles"] and side["tiles"][0] in ("healthy", "your traffic", "platform"), side
            assert "Whole platform" not in (page.text_content("#dash-status") or "")
    page.goto(live_server.url + "/o/acme/dashboards/builtin/platform-overview/")
    wait_loaded(page)
    page.screenshot(path=str(output_dir / "dashboards-platform-overview-viewer.png"), full_page=True)
    page.context.close()
