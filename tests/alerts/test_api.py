"""Rules, channels, policy: CRUD, validation, audit, secrets, cross-org isolation."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest
import yaml
from rest_framework.test import APIClient

from alerts_app.models import Channel, Rule
from portal.backends import outbound
from portal.crypto import decrypt
from portal.tenancy.models import AuditEntry, Organization
from tests.factories import ChannelFactory

pytestmark = pytest.mark.django_db

RULE = {"name": "High error rate", "kind": "threshold", "severity": "warning",
        "query": 'sum(rate(http_requests_total{status=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))',
        "comparator": ">", "threshold": 0.05, "for_duration": "5m", "labels": {"team": "api"},
        "annotations": {"summary": "5xx share {{ $value | humanizePercentage }}",
                        "runbook_url": "https://runbooks.example/5xx"}}


def test_rule_crud_is_audited_and_queues_sync(api_alice: APIClient, org_a: Organization, alert_files: Path,
                                             django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        r = api_alice.post("/api/v1/alerts/rules/", RULE, format="json")
    assert r.status_code == 201, r.content
    rid = r.json()["id"]
    rule = Rule.objects.for_org(org_a).get(pk=rid)
    assert rule.sync_state == "synced"  # eager Celery: the sync ran after commit (no backend URLs set)
    written = yaml.safe_load((alert_files / "rules" / f"portal-org-{org_a.pk}.yml").read_text())
    assert 'org_id="acme"' in written["groups"][0]["rules"][0]["expr"]
    r = api_alice.patch(f"/api/v1/alerts/rules/{rid}/", {"threshold": 0.1, "enabled": False}, format="json")
    assert r.status_code == 200 and r.json()["threshold"] == 0.1
    assert api_alice.get(f"/api/v1/alerts/rules/{rid}/").json()["sync_state"] == "pending"
    assert api_alice.delete(f"/api/v1/alerts/rules/{rid}/").status_code == 204
    actions = list(AuditEntry.objects.for_org(org_a).filter(object_type="rule").values_list("action", flat=True))
    assert sorted(actions) == ["create", "delete", "update"]


@pytest.mark.parametrize(("patch", "field"), [
    ({"query": 'up{org_id="globex"}'}, "query"),
    ({"query": "sum(rate(x[5m]"}, "query"),
    ({"for_duration": "5 minutes"}, "for_duration"),
    ({"labels": {"bad-name": "x"}}, "labels"),
    ({"labels": {"org_id": "globex"}}, "labels"),
    ({"annotations": {"summary": "{{ $labels.job "}}, "annotations"),
    ({"kind": "promql", "expr": 'rate(x{org_id=~"glob.*"}[5m])'}, "expr"),
    ({"threshold": None}, "threshold"),
    ({"severity": "urgent"}, "severity"),
])
def test_validation_points_at_the_field(api_alice: APIClient, alert_files: Path, patch: dict[str, Any],
                                        field: str) -> None:
    r = api_alice.post("/api/v1/alerts/rules/", {**RULE, **patch}, format="json")
    assert r.status_code == 400, r.content
    err = r.json()["error"]
    assert err["details"].get("field", next(iter(err["details"]))) == field, err


def test_another_orgs_rules_and_channels_are_404(api_alice: APIClient, api_charlie: APIClient,
                                                org_b: Organization, alert_files: Path) -> None:
    rid = api_charlie.post("/api/v1/alerts/rules/", RULE, format="json").json()["id"]
    cid = api_charlie.post("/api/v1/alerts/channels/", {"name": "mail", "kind": "email",
                                                        "config": {"addresses": ["ops@globex.example"]}},
                           format="json").json()["id"]
    for url in (f"/api/v1/alerts/rules/{rid}/", f"/api/v1/alerts/channels/{cid}/"):
        assert api_alice.get(url).status_code == 404
        assert api_alice.patch(url, {"name": "x"}, format="json").status_code == 404
        assert api_alice.delete(url).status_code == 404
    assert api_alice.post(f"/api/v1/alerts/channels/{cid}/test/").status_code == 404
    # A rule of org A cannot point at org B's channel.
    r = api_alice.post("/api/v1/alerts/rules/", {**RULE, "channels": [cid]}, format="json")
    assert r.status_code == 400
    assert api_alice.get("/api/v1/alerts/rules/").json()["count"] == 0


def test_viewer_cannot_write(api_bob: APIClient, alert_files: Path) -> None:
    assert api_bob.post("/api/v1/alerts/rules/", RULE, format="json").status_code == 403
    assert api_bob.get("/api/v1/alerts/rules/").status_code == 200


@pytest.fixture
def public_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """`*.example` receivers resolve to a public address (no DNS here; nothing is sent in these tests)."""
    real = outbound.resolve

    def fake(host: str, port: int) -> list[Any]:
        return [ipaddress.ip_address("93.184.215.14")] if host.endswith(".example") else real(host, port)

    monkeypatch.setattr(outbound, "resolve", fake)


@pytest.mark.parametrize(("body", "secret_key"), [
    ({"kind": "slack", "config": {"channel": "#ops"}, "secrets": {"webhook_url": "https://hooks.slack.example/T/1"}},
     "webhook_url"),
    ({"kind": "teams", "secrets": {"webhook_url": "https://teams.example/hook/1"}}, "webhook_url"),
    ({"kind": "pagerduty", "secrets": {"routing_key": "R0UTINGKEY123"}}, "routing_key"),
    ({"kind": "webhook", "secrets": {"url": "https://hooks.example/in", "hmac_secret": "s3cr3t",
                                     "headers": {"X-Team": "api"}}}, "hmac_secret"),
])
def test_channel_secrets_encrypted_and_never_returned(api_alice: APIClient, org_a: Organization,
                                                      alert_files: Path, public_dns: None, body: dict[str, Any],
                                                      secret_key: str) -> None:
    r = api_alice.post("/api/v1/alerts/channels/", {"name": body["kind"], **body}, format="json")
    assert r.status_code == 201, r.content
    secret_value = str(body["secrets"][secret_key])
    assert secret_value not in r.content.decode()
    assert secret_key in r.json()["secrets_set"]
    ch = Channel.objects.for_org(org_a).get(pk=r.json()["id"])
    assert secret_value not in ch.secrets_encrypted and secret_value in decrypt(ch.secrets_encrypted)
    got = api_alice.get(f"/api/v1/alerts/channels/{ch.pk}/").content.decode()
    assert secret_value not in got
    audit = str(list(AuditEntry.objects.for_org(org_a).values_list("changes", flat=True)))
    assert secret_value not in audit
    if body["kind"] == "pagerduty":
        assert r.json()["severities"] == ["critical"]  # PagerDuty pages for critical alerts by default


@pytest.mark.parametrize(("body", "field"), [
    ({"kind": "email", "config": {"addresses": ["not-an-address"]}}, "config.addresses"),
    ({"kind": "slack", "secrets": {"webhook_url": "ftp://x"}}, "secrets.webhook_url"),
    ({"kind": "pagerduty", "secrets": {}}, "secrets.routing_key"),
    ({"kind": "webhook", "secrets": {"url": "https://x.example", "headers": {"X": 1}}}, "secrets.headers"),
    ({"kind": "email", "config": {"addresses": ["a@b.example"]}, "severities": ["urgent"]}, "severities"),
])
def test_channel_validation(api_alice: APIClient, alert_files: Path, body: dict[str, Any], field: str) -> None:
    r = api_alice.post("/api/v1/alerts/channels/", {"name": "c", **body}, format="json")
    assert r.status_code == 400
    assert r.json()["error"]["details"]["field"] == field


def test_policy_round_trip_and_validation(api_alice: APIClient, org_a: Organization, alert_files: Path,
                                          django_capture_on_commit_callbacks: Any) -> None:
    body = {"group_by": ["alertname", "job"], "repeat_interval": "2h",
            "mute_time_intervals": [{"weekdays": ["saturday", "sunday"]},
                                    {"times": [{"start_time": "22:00", "end_time": "23:59"}]}]}
    channel = ChannelFactory(org=org_a)  # an org without a channel has no route to carry the policy
    with django_capture_on_commit_callbacks(execute=True) as queued:
        r = api_alice.put("/api/v1/alerts/policy/", body, format="json")
    assert r.status_code == 200, r.content
    assert queued, "saving the policy requested no sync"
    assert api_alice.get("/api/v1/alerts/policy/").json()["repeat_interval"] == "2h"
    # The sync rendered the policy into the Alertmanager config: the org's route groups and repeats as
    # asked, and the channel's leaves are muted on the weekend.
    config = yaml.safe_load((alert_files / "am" / "alertmanager.yml").read_text())
    [route] = [r for r in config["route"]["routes"] if r.get("matchers") == ['org_id="acme"']]
    assert route["repeat_interval"] == "2h" and route["group_by"] == ["alertname", "job"]
    leaves = [leaf for sev in route["routes"] for leaf in sev.get("routes", [])
              if leaf["receiver"] == f"org{org_a.pk}-ch{channel.pk}"]
    assert leaves and all(leaf["mute_time_intervals"] for leaf in leaves)
    intervals = {t["name"]: t["time_intervals"] for t in config["time_intervals"]}
    muted = [i for name in leaves[0]["mute_time_intervals"] for i in intervals[name]]
    assert {"weekdays": ["saturday", "sunday"]} in muted
    bad = api_alice.put("/api/v1/alerts/policy/", {"mute_time_intervals": [{"weekdays": ["funday"]}]},
                        format="json")
    assert bad.status_code == 400 and bad.json()["error"]["details"]["field"] == "mute_time_intervals"
    assert api_alice.put("/api/v1/alerts/policy/", {"repeat_interval": "soon"},
                         format="json").status_code == 400


def test_templates_build_valid_rules(api_alice: APIClient, org_a: Organization, alert_files: Path) -> None:
    templates = api_alice.get("/api/v1/alerts/rules/templates/").json()
    keys = {t["key"] for t in templates}
    assert {"service_down", "high_error_rate", "token_quota_forecast", "spend_quota_forecast", "model_ttft_p95",
            "model_error_share", "service_error_share", "service_latency_p95",
            "auth_failures", "latency_p95", "latency_vs_yesterday", "log_auth_failures"} <= keys
    for t in templates:
        r = api_alice.post("/api/v1/alerts/rules/from-template/", {"template": t["key"], "params": {}},
                           format="json")
        assert r.status_code == 201, (t["key"], r.content)
    rules = {r.template: r for r in Rule.objects.for_org(org_a)}
    assert rules["service_down"].query == "up" and rules["service_down"].comparator == "=="
    assert "predict_linear" in rules["token_quota_forecast"].query
    assert "offset 1d" in rules["latency_vs_yesterday"].expr
    assert rules["log_auth_failures"].kind == "log" and rules["log_auth_failures"].log_query == "auth_failure"
    export = api_alice.get("/api/v1/alerts/rules/export/").content.decode()
    from alerts_app import checks

    checks.check_rules(export)
