"""Browser pages render for members and are 404 for other orgs; the preview endpoint on real data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from alerts_app.models import Rule
from portal.tenancy.models import Organization
from tests import procs
from tests.alerts.receivers import wait_for

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["alerts/", "alerts/rules/new/", "alerts/channels/", "alerts/silences/"])
def test_pages_render_and_are_404_for_other_orgs(path: str, web_alice: Client, web_charlie: Client,
                                                 org_a: Organization, alert_files: Path) -> None:
    r = web_alice.get(f"/o/acme/{path}")
    assert r.status_code == 200
    assert b'id="page-config"' in r.content
    assert b'href="/o/acme/alerts/channels/"' in r.content and b"/o//" not in r.content
    assert web_charlie.get(f"/o/acme/{path}").status_code == 404


def test_rule_editor_of_another_orgs_rule_is_404(web_alice: Client, web_charlie: Client, org_a: Organization,
                                                 alert_files: Path) -> None:
    rule = Rule.objects.create(org=org_a, name="R", query="up", threshold=0)
    own = web_alice.get(f"/o/acme/alerts/rules/{rule.pk}/")
    assert own.status_code == 200 and f'"rule_id": {rule.pk}'.encode() in own.content, own.content[:500]
    assert web_charlie.get(f"/o/acme/alerts/rules/{rule.pk}/").status_code == 404
    assert web_charlie.get(f"/o/globex/alerts/rules/{rule.pk}/").status_code == 404


def test_alert_list_says_when_alertmanager_is_down(web_alice: Client, alert_files: Path, settings: Any) -> None:
    settings.ALERTMANAGER_URL = f"http://127.0.0.1:{procs.free_port()}"
    r = web_alice.get("/o/acme/alerts/")
    assert r.status_code == 200 and b"alertmanager unavailable" in r.content.lower()


def test_preview_on_real_prometheus(api_alice: APIClient, api_charlie: APIClient, prom_proc: procs.Proc) -> None:
    # Prometheus scrapes itself as a target of org A (the label comes from the target, not the sender).
    (prom_proc.files["file_sd_dir"] / "self.json").write_text(json.dumps(
        [{"targets": [f"127.0.0.1:{prom_proc.port}"], "labels": {"org_id": "acme"}}]))
    body = {"kind": "threshold", "query": "up", "comparator": ">", "threshold": 0.5}
    data = wait_for(lambda: (r := api_alice.post("/api/v1/alerts/rules/preview/", body, format="json").json())
                    ["series"] and r, timeout=40, what="scraped series")
    assert data["threshold"] == 0.5 and data["series"][0]["labels"]["org_id"] == "acme"
    assert data["firing_spans"], data
    # The same query as org B sees nothing of org A.
    other = api_charlie.post("/api/v1/alerts/rules/preview/", body, format="json").json()
    assert other["series"] == [] and other["firing_spans"] == []
    # Below the threshold: a chart but no firing span.
    quiet = api_alice.post("/api/v1/alerts/rules/preview/", {**body, "comparator": "<"}, format="json").json()
    assert quiet["series"] and quiet["firing_spans"] == []
    bad = api_alice.post("/api/v1/alerts/rules/preview/", {**body, "query": 'up{org_id="globex"}'}, format="json")
    assert bad.status_code == 400 and bad.json()["error"]["details"]["field"] == "query"
