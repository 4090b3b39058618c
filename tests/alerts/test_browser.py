"""In a real browser: create a rule from a template, preview it, save, and watch it reach
"synced" (real Prometheus + Alertmanager); channel and silence pages work."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from alerts_app.models import Rule
from portal.tenancy import services
from tests.browser.conftest import login
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_rule_from_template_reaches_synced(live_server: Any, page: Any, output_dir: Path,
                                           backends: Any) -> None:
    prom, _ = backends
    (prom.files["file_sd_dir"] / "self.json").write_text(json.dumps(
        [{"targets": [f"127.0.0.1:{prom.port}"], "labels": {"org_id": "acme", "job": "prometheus"}}]))
    org = services.create_org("acme", "Acme Corp", "acme")
    services.add_member(org, "alice@acme.example", "admin", password=PASSWORD)
    external: list[str] = []
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(live_server.url) else None)
    login(page, live_server.url, "alice@acme.example", PASSWORD)

    # A channel first (secrets typed into a password field, never shown again).
    page.goto(f"{live_server.url}/o/acme/alerts/channels/")
    page.fill("#c-name", "ops mail")
    page.fill("#c-addresses", "ops@acme.example")
    page.click("#channel-form button[type=submit]")
    page.wait_for_selector("[data-channel]")
    page.click("[data-test-channel]")
    page.wait_for_function("document.querySelector('.test-result').textContent.startsWith('delivered')")
    page.screenshot(path=str(output_dir / "alerts-channels.png"), full_page=True)

    # The editor: pick a template, its form fills in, preview the last 24 h, save.
    page.goto(f"{live_server.url}/o/acme/alerts/rules/new/")
    page.select_option("#tpl", "service_down")
    page.wait_for_function("document.querySelector('#f-query').value === 'up'")
    page.fill("#tp-job", "prometheus")
    page.wait_for_function("document.querySelector('#f-query').value === 'up{job=\"prometheus\"}'")
    assert page.input_value("#f-name") == "Service down"
    assert page.input_value("#f-comparator") == "=="
    # Preview with a threshold the target crosses, so the firing spans show.
    page.select_option("#f-comparator", ">")
    page.fill("#f-threshold", "0.5")
    for _ in range(20):
        page.click("#btn-preview")
        page.wait_for_selector("#preview .main-svg")
        if page.get_attribute("#preview", "data-spans") not in (None, "0"):
            break
        page.wait_for_timeout(2000)
    assert int(page.get_attribute("#preview", "data-spans") or 0) >= 1
    page.screenshot(path=str(output_dir / "alerts-rule-editor-preview.png"), full_page=True)
    # A bad query is refused and the error names the field.
    page.fill("#f-query", 'up{org_id="globex"}')
    page.click("#btn-save")
    page.wait_for_selector("#form-error:not(:empty)")
    assert "query" in page.text_content("#form-error")
    page.fill("#f-query", 'up{job="prometheus"}')
    page.select_option("#f-comparator", "==")
    page.fill("#f-threshold", "0")
    page.click("#btn-save")
    page.wait_for_url(f"{live_server.url}/o/acme/alerts/")
    page.wait_for_function("document.querySelector('[data-sync-state]').textContent.trim() === 'synced'",
                           timeout=20000)
    page.screenshot(path=str(output_dir / "alerts-list-synced.png"), full_page=True)
    rule = Rule.objects.for_org(org).get()
    assert rule.template == "service_down" and rule.sync_state == "synced"

    # Edit it: the editor loads the saved rule; the change is synced again.
    assert page.get_attribute("#rules a", "href") == f"/o/acme/alerts/rules/{rule.pk}/"
    page.click("#rules a")
    page.wait_for_url(f"{live_server.url}/o/acme/alerts/rules/{rule.pk}/")
    page.wait_for_function("document.querySelector('#f-query').value !== ''")
    page.select_option("#f-severity", "warning")
    page.click("#btn-save")
    page.wait_for_url(f"{live_server.url}/o/acme/alerts/")
    page.wait_for_function("document.querySelector('[data-sync-state]').textContent.trim() === 'synced'",
                           timeout=20000)
    rule.refresh_from_db()
    assert rule.severity == "warning" and rule.query == 'up{job="prometheus"}' and rule.sync_state == "synced"

    # Silences page: create one, it is listed with the org matcher, expire it.
    page.goto(f"{live_server.url}/o/acme/alerts/silences/")
    page.fill("#s-matchers", "alertname=Service_down")
    page.fill("#s-comment", "maintenance window")
    page.click("#silence-form button[type=submit]")
    page.wait_for_selector("#silences")
    assert 'org_id="acme"' in page.text_content("#silences")
    page.screenshot(path=str(output_dir / "alerts-silences.png"), full_page=True)
    page.click("[data-expire]")
    page.wait_for_load_state("networkidle")
    assert external == []
