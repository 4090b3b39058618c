"""A real Prometheus evaluating the portal's rule files and sending to a real Alertmanager that loads the
portal's config; PagerDuty is a local recorder and the inbound hook (alert history) is the live server.
A test module wraps `run` in its own fixture."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import yaml

from alerts_app.models import Channel, NotificationPolicy, OrgSync, Rule
from alerts_app.secrets import write as write_secrets
from portal.tenancy.models import Organization
from tests import procs
from tests.alerts.receivers import HttpRecorder


def run(tmp_path: Path, settings: Any, live_server: Any) -> Iterator[dict[str, Any]]:
    http = HttpRecorder()
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    am = procs.start_alertmanager()
    config = f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: ['{rules_dir}/*.yml']
alerting:
  alertmanagers: [{{static_configs: [{{targets: ['127.0.0.1:{am.port}']}}]}}]
"""
    # A 1s resend delay: the first evaluation can run before the notifier has discovered Alertmanager.
    prom = procs.start_prometheus(config, rules_dir=rules_dir, extra_args=["--rules.alert.resend-delay=1s"])
    settings.PROMETHEUS_URL, settings.PROMETHEUS_RULES_DIR = prom.url, rules_dir
    settings.ALERTMANAGER_URL, settings.ALERTMANAGER_CONFIG_FILE = am.url, am.files["config"]
    settings.ALERTS_HOOK_BASE_URL = live_server.url
    settings.ALERTS_PAGERDUTY_URL = f"{http.url}/pagerduty"
    yield {"http": http, "prom": prom, "am": am}
    prom.cleanup()
    am.cleanup()
    http.stop()


def fast_policy(org: Organization, **overrides: str) -> NotificationPolicy:
    values = {"group_wait": "1s", "group_interval": "1s", "repeat_interval": "3s", **overrides}
    policy, _ = NotificationPolicy.objects.all_orgs().update_or_create(org=org, defaults=values)
    return policy


def pagerduty_channel(org: Organization, name: str, routing_key: str) -> Channel:
    """Straight to the database: these tests are about the sync, not the channel API."""
    ch = Channel(org=org, name=name, kind="pagerduty", severities=["critical"])
    write_secrets(ch, {"routing_key": routing_key})
    ch.save()
    return ch


def always_firing(org: Organization, name: str = "AlwaysFiring", **kw: Any) -> Rule:
    values: dict[str, Any] = {"kind": "promql", "expr": "vector(1)", "for_duration": "0s", "severity": "critical"}
    values.update(kw)
    return Rule.objects.create(org=org, name=name, **values)


def bump(org: Organization) -> None:
    """What an API change does before its sync runs: ask for a new generation."""
    state, _ = OrgSync.objects.all_orgs().get_or_create(org=org)
    OrgSync.objects.all_orgs().filter(pk=state.pk).update(requested=state.requested + 1)


def loaded_am_config(am: procs.Proc) -> dict[str, Any]:
    """The config Alertmanager really runs with (its API, not the file)."""
    status = httpx.get(am.url + "/api/v2/status").json()
    config: dict[str, Any] = yaml.safe_load(status["config"]["original"])
    return config


def loaded_receivers(am: procs.Proc) -> set[str]:
    return {r["name"] for r in loaded_am_config(am)["receivers"]}


def loaded_rule_ids(prom: procs.Proc) -> set[str]:
    groups = httpx.get(prom.url + "/api/v1/rules").json()["data"]["groups"]
    return {r.get("labels", {}).get("portal_rule") for g in groups for r in g["rules"]} - {None}


def pages_for(http: HttpRecorder, routing_key: str) -> list[dict[str, Any]]:
    return [r for r in http.at("/pagerduty") if (r["json"] or {}).get("routing_key") == routing_key]
