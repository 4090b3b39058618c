"""End to end: real Prometheus + Alertmanager + the portal (live server for the inbound hook). Org A's
"service down" rule fires for a down demo target and reaches all five channels with org A's label; org
B's receivers get nothing; a silence stops the repeats; resolving sends the resolved notification."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from rest_framework.test import APIClient

from alerts_app import notify
from alerts_app.models import Rule
from portal.tenancy.models import Organization
from tests import procs
from tests.alerts.receivers import HttpRecorder, MetricsTarget, SmtpRecorder, allow_outbound, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def stack(tmp_path: Path, settings: Any, live_server: Any) -> Iterator[dict[str, Any]]:
    http = HttpRecorder()
    allow_outbound(settings, f"127.0.0.1:{http.port}")
    smtp = SmtpRecorder()
    rules_dir, sd_dir = tmp_path / "rules", tmp_path / "sd"
    rules_dir.mkdir()
    sd_dir.mkdir()
    am = procs.start_alertmanager()
    target_port = procs.free_port()
    (sd_dir / "demo.json").write_text(json.dumps([
        {"targets": [f"127.0.0.1:{target_port}"], "labels": {"org_id": "acme", "job": "demo"}}]))
    config = f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: ['{rules_dir}/*.yml']
alerting:
  alertmanagers: [{{static_configs: [{{targets: ['127.0.0.1:{am.port}']}}]}}]
scrape_configs:
  - job_name: demo
    honor_labels: false
    file_sd_configs: [{{files: ['{sd_dir}/*.json'], refresh_interval: 1s}}]
"""
    # A 1s resend delay: the first evaluation can run before the notifier has discovered Alertmanager,
    # and the default (1m) would then hold the alert back for a minute.
    prom = procs.start_prometheus(config, rules_dir=rules_dir, file_sd_dir=sd_dir,
                                  extra_args=["--rules.alert.resend-delay=1s"])
    settings.PROMETHEUS_URL, settings.PROMETHEUS_RULES_DIR = prom.url, rules_dir
    settings.ALERTMANAGER_URL, settings.ALERTMANAGER_CONFIG_FILE = am.url, am.files["config"]
    settings.ALERTS_HOOK_BASE_URL = live_server.url
    settings.ALERTS_SMTP_SMARTHOST = f"127.0.0.1:{smtp.port}"
    settings.ALERTS_PAGERDUTY_URL = f"{http.url}/pagerduty"
    yield {"http": http, "smtp": smtp, "prom": prom, "am": am, "target_port": target_port}
    prom.cleanup()
    am.cleanup()
    http.stop()
    smtp.stop()


def make_channels(client: APIClient, http: HttpRecorder, tag: str) -> None:
    bodies = [
        {"name": "mail", "kind": "email", "config": {"addresses": [f"oncall@{tag}.example"]}},
        {"name": "slack", "kind": "slack", "config": {"channel": f"#{tag}"},
         "secrets": {"webhook_url": f"{http.url}/slack-{tag}"}},
        {"name": "teams", "kind": "teams", "secrets": {"webhook_url": f"{http.url}/teams-{tag}"}},
        {"name": "pd", "kind": "pagerduty", "secrets": {"routing_key": f"rk-{tag}"}},
        {"name": "hook", "kind": "webhook", "secrets": {"url": f"{http.url}/webhook-{tag}", "hmac_secret": f"s-{tag}",
                                                        "headers": {"X-Team": tag}}},
    ]
    for body in bodies:
        r = client.post("/api/v1/alerts/channels/", body, format="json")
        assert r.status_code == 201, r.content
    policy = {"group_wait": "1s", "group_interval": "1s", "repeat_interval": "3s"}
    assert client.put("/api/v1/alerts/policy/", policy, format="json").status_code == 200


def resolved_at(http: HttpRecorder, path: str) -> list[dict[str, Any]]:
    return [r for r in http.at(path) if b"resolved" in r["raw"].lower()]


def test_service_down_reaches_every_channel_of_its_org_only(stack: dict[str, Any], api_alice: APIClient,
                                                            api_charlie: APIClient, org_a: Organization,
                                                            org_b: Organization) -> None:
    http: HttpRecorder = stack["http"]
    smtp: SmtpRecorder = stack["smtp"]
    make_channels(api_alice, http, "acme")
    make_channels(api_charlie, http, "globex")
    # Org B has the same rule; its org matcher selects no series, so it never fires.
    for client in (api_alice, api_charlie):
        r = client.post("/api/v1/alerts/rules/from-template/",
                        {"template": "service_down", "params": {"job": "demo"}, "for_duration": "0s"}, format="json")
        assert r.status_code == 201, r.content
    rule = Rule.objects.for_org(org_a).get()
    assert rule.sync_state == "synced", rule.sync_error

    # 1. Every channel of org A receives the firing notification, carrying org A's label.
    paths = ["/slack-acme", "/teams-acme", "/webhook-acme"]
    try:
        wait_for(lambda: http.at("/slack-acme"), what="slack")
    except AssertionError:  # say why: what Prometheus and Alertmanager hold
        print("PROM", httpx.get(stack["prom"].url + "/api/v1/alerts").text)
        print("AM", httpx.get(stack["am"].url + "/api/v2/alerts").text)
        raise
    for p in paths:
        wait_for(functools.partial(http.at, p), what=p)
    pd = wait_for(lambda: [r for r in http.at("/pagerduty") if r["json"]["routing_key"] == "rk-acme"], what="pd")
    mail = wait_for(lambda: smtp.to("oncall@acme.example"), what="email")
    assert "acme" in http.at("/slack-acme")[0]["raw"].decode() and http.at("/slack-acme")[0]["json"]["channel"] == \
        "#acme"
    assert http.at("/teams-acme")[0]["json"]["portal"]["commonLabels"]["org_id"] == "acme"
    hook = http.at("/webhook-acme")[0]
    assert hook["json"]["commonLabels"]["org_id"] == "acme" and hook["headers"]["X-Team"] == "acme"
    assert hook["headers"]["X-Portal-Signature"] == notify.signature("s-acme", hook["raw"])
    assert pd[0]["json"]["event_action"] == "trigger" and "acme" in json.dumps(pd[0]["json"])
    assert "acme" in mail[0]["data"]
    # The portal's timeline got it too.
    assert wait_for(lambda: api_alice.get("/api/v1/alerts/history/").json(), what="history")
    active = api_alice.get("/api/v1/alerts/active/").json()
    assert active["counts"] == {"critical": 1}

    # 2. A silence in org A stops the repeats (repeat_interval is 3s).
    r = api_alice.post("/api/v1/alerts/silences/", {"matchers": [{"name": "alertname", "value": "Service_down"}],
                                                    "duration_minutes": 10}, format="json")
    assert r.status_code == 201
    sid = r.json()["silenceID"]
    time.sleep(3)  # let a notification already in flight land
    before = len(http.at("/webhook-acme"))
    time.sleep(9)
    assert len(http.at("/webhook-acme")) == before, "a silenced alert was repeated"

    # 3. Resolve: the silence is lifted, the target comes up, every channel gets the resolved message.
    assert api_alice.delete(f"/api/v1/alerts/silences/{sid}/").status_code == 204
    target = MetricsTarget(stack["target_port"])
    try:
        for p in paths:
            wait_for(functools.partial(resolved_at, http, p), what=f"resolved at {p}")
        wait_for(lambda: [r for r in http.at("/pagerduty") if r["json"]["routing_key"] == "rk-acme"
                          and r["json"]["event_action"] == "resolve"], what="pd resolve")
        wait_for(lambda: [m for m in smtp.to("oncall@acme.example") if "RESOLVED" in m["data"].upper()],
                 what="resolved email")
    finally:
        target.stop()

    # 4. Org B's receivers got nothing at all.
    assert not any(r["path"].endswith("globex") for r in http.requests)
    assert not [r for r in http.at("/pagerduty") if r["json"]["routing_key"] == "rk-globex"]
    assert smtp.to("oncall@globex.example") == []
    assert api_charlie.get("/api/v1/alerts/history/").json() == []
