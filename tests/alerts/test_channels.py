"""Channel delivery the portal does itself: test notifications for every kind, the Teams/webhook relay
(HMAC signature, custom headers) behind the signed inbound hook, and routing/mute windows in the
rendered Alertmanager config."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from alerts_app import notify, render
from portal.tenancy.models import Organization
from tests.alerts.receivers import HttpRecorder, allow_outbound

pytestmark = pytest.mark.django_db


@pytest.fixture
def recorder(settings: Any) -> Iterator[HttpRecorder]:
    r = HttpRecorder()
    allow_outbound(settings, f"127.0.0.1:{r.port}")
    yield r
    r.stop()


def create(client: APIClient, body: dict[str, Any]) -> int:
    r = client.post("/api/v1/alerts/channels/", body, format="json")
    assert r.status_code == 201, r.content
    return int(r.json()["id"])


def test_send_test_notification_for_every_kind(api_alice: APIClient, recorder: HttpRecorder,
                                               alert_files: Path, settings: Any) -> None:
    settings.ALERTS_PAGERDUTY_URL = f"{recorder.url}/pagerduty"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    ids = {
        "email": create(api_alice, {"name": "m", "kind": "email", "config": {"addresses": ["ops@acme.example"]}}),
        "slack": create(api_alice, {"name": "s", "kind": "slack", "config": {"channel": "#ops"},
                                    "secrets": {"webhook_url": f"{recorder.url}/slack"}}),
        "teams": create(api_alice, {"name": "t", "kind": "teams", "secrets": {"webhook_url": f"{recorder.url}/teams"}}),
        "pagerduty": create(api_alice, {"name": "p", "kind": "pagerduty", "secrets": {"routing_key": "rk"}}),
        "webhook": create(api_alice, {"name": "w", "kind": "webhook", "secrets": {
            "url": f"{recorder.url}/hook", "hmac_secret": "k3y", "headers": {"X-Env": "prod"}}}),
    }
    for kind, cid in ids.items():
        r = api_alice.post(f"/api/v1/alerts/channels/{cid}/test/")
        assert r.status_code == 200 and r.json()["ok"] is True, (kind, r.content)
    assert mail.outbox[0].to == ["ops@acme.example"]
    assert recorder.at("/slack")[0]["json"]["channel"] == "#ops"
    assert recorder.at("/teams")[0]["json"]["@type"] == "MessageCard"
    assert recorder.at("/pagerduty")[0]["json"]["routing_key"] == "rk"
    hook = recorder.at("/hook")[0]
    assert hook["headers"]["X-Env"] == "prod"
    assert hook["headers"]["X-Portal-Signature"] == notify.signature("k3y", hook["raw"])
    assert hook["json"]["commonLabels"]["org_id"] == "acme"
    # A failing endpoint is reported, not raised.
    allow_outbound(settings, "127.0.0.1:9")
    bad = create(api_alice, {"name": "dead", "kind": "teams", "secrets": {"webhook_url": "http://127.0.0.1:9/x"}})
    r = api_alice.post(f"/api/v1/alerts/channels/{bad}/test/")
    assert r.status_code == 200 and r.json()["ok"] is False and "Connect" in r.json()["detail"]


def test_relay_hook_signs_and_only_serves_its_org(api_alice: APIClient, api_charlie: APIClient,
                                                  org_a: Organization, org_b: Organization,
                                                  recorder: HttpRecorder, alert_files: Path) -> None:
    cid = create(api_alice, {"name": "w", "kind": "webhook",
                             "secrets": {"url": f"{recorder.url}/hook", "hmac_secret": "k"}})
    payload = {"status": "firing", "commonLabels": {"org_id": "acme"},
               "alerts": [{"status": "firing", "labels": {"alertname": "X", "org_id": "acme"}}]}
    c = Client()
    url = f"/hooks/alertmanager/{org_a.pk}/ch{cid}/"
    token = render.hook_token(org_a.pk, f"ch{cid}")
    assert c.post(url, json.dumps(payload), content_type="application/json").status_code == 401
    r = c.post(url, json.dumps(payload), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert r.status_code == 200 and len(recorder.at("/hook")) == 1
    # Org B's URL naming org A's channel: the channel is not B's → 404, nothing relayed.
    url_b = f"/hooks/alertmanager/{org_b.pk}/ch{cid}/"
    token_b = render.hook_token(org_b.pk, f"ch{cid}")
    payload_b = {**payload, "alerts": [{"status": "firing", "labels": {"alertname": "X", "org_id": "globex"}}]}
    assert c.post(url_b, json.dumps(payload_b), content_type="application/json",
                  HTTP_AUTHORIZATION=f"Bearer {token_b}").status_code == 404
    assert len(recorder.at("/hook")) == 1


def test_routing_policy_and_mute_windows_render_and_validate(api_alice: APIClient, org_a: Organization,
                                                             alert_files: Path,
                                                             django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        pd = create(api_alice, {"name": "pd", "kind": "pagerduty", "secrets": {"routing_key": "rk"}})
        em = create(api_alice, {"name": "m", "kind": "email", "config": {"addresses": ["a@acme.example"]},
                           "severities": ["warning", "info"]})
        r = api_alice.put("/api/v1/alerts/policy/", {
            "group_by": ["alertname", "service"], "group_wait": "10s", "repeat_interval": "1h",
            "mute_time_intervals": [{"weekdays": ["saturday", "sunday"]}]}, format="json")
        assert r.status_code == 200
    cfg = yaml.safe_load((alert_files / "am" / "alertmanager.yml").read_text())
    route = next(x for x in cfg["route"]["routes"] if x["matchers"] == ['org_id="acme"'])
    assert route["group_by"] == ["alertname", "service"] and route["repeat_interval"] == "1h"
    by_sev = {x["matchers"][0]: [leaf["receiver"] for leaf in x["routes"]] for x in route["routes"][1:]}
    # PagerDuty (critical by default) only under critical; email only under warning and info.
    assert by_sev['severity="critical"'] == [f"org{org_a.pk}-ch{pd}"]
    assert by_sev['severity="warning"'] == by_sev['severity="info"'] == [f"org{org_a.pk}-ch{em}"]
    assert cfg["time_intervals"][0]["time_intervals"] == [{"weekdays": ["saturday", "sunday"]}]
    leaf = route["routes"][1]["routes"][0]
    assert leaf["mute_time_intervals"] == [cfg["time_intervals"][0]["name"]]
