"""The alert catalogue against the series the platform really exports (docs/alerts.md, "Templates").

Every template, tenant and staff, passes `promtool check rules` and fires end to end on one real
Prometheus + Alertmanager per module: the contract's series are remote-written once (with history, so
forecasts and `offset 1d` have data), crossing each threshold for acme and staying below it for globex.
Tenant rules are created through the API (validation, org enforcement, sync) for both orgs with the same
parameters: acme's arrive at Alertmanager with acme's label, globex's never fire although acme's data
would cross them. Staff rules are the rendered platform file, loaded through Prometheus's own rule_files."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from rest_framework.test import APIClient

from alerts_app import checks
from alerts_app.catalog import PLATFORM_TEMPLATES, TEMPLATES, month_to_date, platform_rules, platform_rules_yaml
from alerts_app.models import Rule
from dashboards_app.models import ModelPrice
from metrics_app import platform_series
from metrics_app.models import PlatformSeries
from portal.tenancy.models import Organization
from tests import procs
from tests.alerts.receivers import wait_for
from tests.metrics.remote_write import Series, push

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.backends]

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "deploy" / "prometheus" / "platform-alerts.yml"
# Log rules are evaluated by the portal, not Prometheus (tests/alerts/test_live.py covers them).
PROM_TEMPLATES = sorted(k for k, t in TEMPLATES.items() if t.kind != "log")
STEP_S = 15
HISTORY_S = 40 * 60
AHEAD_S = 15 * 60  # samples a little into the future keep every 5m window filled for the whole module
TENANT_PARAMS: dict[str, dict[str, Any]] = {"service_down": {"job": "tenant-exporter"}}
# Per-model templates read every org's requests from the platform series with scope=platform.
PLATFORM_SCOPED = ("model_ttft_p95", "model_error_share")
BAD, GOOD = "acme", "globex"


# --- the contract's series ------------------------------------------------------------------------

def _times(start: float, end: float) -> list[float]:
    return [start + i * STEP_S for i in range(int((end - start) // STEP_S) + 1)]


def _counter(labels: dict[str, str], per_s: float, ts: list[float], base: float = 0.0) -> Series:
    t0 = ts[0]
    return labels, [(int(t * 1000), base + per_s * (t - t0)) for t in ts]


def _gauge(labels: dict[str, str], value: float, ts: list[float]) -> Series:
    return labels, [(int(t * 1000), value) for t in ts]


def _histogram(name: str, labels: dict[str, str], per_s: float, le_hit: str, les: list[str],
               ts: list[float]) -> list[Series]:
    """Every observation falls in bucket `le_hit` (and every bucket above it)."""
    hit = les.index(le_hit)
    out = [_counter({**labels, "__name__": f"{name}_bucket", "le": le}, per_s if i >= hit else 0.0, ts)
           for i, le in enumerate(les)]
    out.append(_counter({**labels, "__name__": f"{name}_count"}, per_s, ts))
    return out


def tenant_series(org: str, now: float) -> list[Series]:
    """acme crosses every tenant threshold; globex stays below all of them."""
    bad = org == BAD
    ts = _times(now - HISTORY_S, now + AHEAD_S)
    out: list[Series] = [
        _gauge({"__name__": "up", "job": "tenant-exporter", "instance": f"{org}-exp:9100",
                "service_name": "tenant-exporter", "org_id": org}, 0.0 if bad else 1.0, ts),
        _counter({"__name__": "auth_failures_total", "reason": "bad_password", "org_id": org},
                 1.0 if bad else 0.01, ts),
    ]
    for i in range(2):  # user-org-service's two instances export the quota gauge
        common = {"job": "user-org-service", "service_name": "user-org-service", "instance": f"uos-{i}:8080",
                  "org_id": org}
        out.append(_gauge({"__name__": "org_quota_limit", **common, "resource": "tokens"}, 1e6, ts))
        out.append(_gauge({"__name__": "org_quota_limit", **common, "resource": "spend_usd"}, 100.0, ts))
    http = {"service_name": "api-router", "job": "api-router", "instance": "api-router-0:8080",
            "http_route": "/v1/chat/completions", "http_request_method": "POST", "org_id": org}
    les = ["0.1", "0.5", "1", "5", "+Inf"]
    yesterday = _times(now - 86400 - 600, now - 86400 + 600)
    for status in (["200", "500"] if bad else ["200"]):
        labels = {**http, "http_response_status_code": status}
        name = "http_server_request_duration_seconds"
        if bad:  # fast yesterday, slow today: the same series, older samples first
            for old, new in zip(_histogram(name, labels, 1.0, "0.1", les, yesterday),
                                _histogram(name, labels, 1.0, "5", les, ts), strict=True):
                out.append((new[0], [*old[1], *(s for s in new[1])]))
        else:
            out.extend(_histogram(name, labels, 1.0, "0.1", les, ts))
    model = {"gen_ai_request_model": "gpt-4o", "org_id": org}
    out.extend(_histogram("gen_ai_server_time_to_first_token_seconds", model, 1.0, "5" if bad else "0.5",
                          ["0.5", "1", "2.5", "5", "+Inf"], ts))
    out.append(_counter({"__name__": "gen_ai_server_request_duration_seconds_count", **model}, 1.0, ts))
    if bad:
        out.append(_counter({"__name__": "gen_ai_server_request_duration_seconds_count", **model,
                             "error_type": "timeout"}, 1.0, ts))
    for token_type in ("input", "output"):
        out.append(_counter({"__name__": "gen_ai_client_token_usage_sum", **model, "api_key": f"{org}-prod",
                             "gen_ai_token_type": token_type}, 1000.0 if bad else 0.01, ts))
    return out


def instance_series(now: float) -> list[Series]:
    """No org label. Crossing: api-router-0 down, every user-org-service instance down, analytics-0
    memory, model-serving-0 CPU, api-router-1 disk, analytics-1 disk trend. The tenant's own `up` of 0
    (org label, service_name tenant-exporter) must not feed any platform alert."""
    ts = _times(now - HISTORY_S, now + AHEAD_S)

    def inst(service: str, i: int) -> dict[str, str]:
        return {"job": service, "service_name": service, "instance": f"{service}-{i}:8080"}

    out: list[Series] = []
    for service, values in {"api-router": [0, 1, 1], "user-org-service": [0, 0], "analytics-service": [1, 1],
                            "model-serving": [1, 1]}.items():
        out.extend(_gauge({"__name__": "up", **inst(service, i)}, v, ts) for i, v in enumerate(values))
    memory = {("analytics-service", 0): (950, 1000), ("analytics-service", 1): (100, 1000),
              ("model-serving", 0): (500, 0)}  # a limit of 0 is "unlimited": never a saturation
    for (service, i), (rss, limit) in memory.items():
        out.append(_gauge({"__name__": "process_resident_memory_bytes", **inst(service, i)}, rss, ts))
        out.append(_gauge({"__name__": "container_spec_memory_limit_bytes", **inst(service, i)}, limit, ts))
    for (service, i), cores in {("model-serving", 0): 0.95, ("model-serving", 1): 0.2}.items():
        out.append(_counter({"__name__": "process_cpu_seconds_total", **inst(service, i)}, cores, ts))
        out.append(_gauge({"__name__": "container_spec_cpu_quota", **inst(service, i)}, 100000, ts))
        out.append(_gauge({"__name__": "container_spec_cpu_period", **inst(service, i)}, 100000, ts))
    out.append(_gauge({"__name__": "container_fs_usage_bytes", **inst("api-router", 1)}, 900, ts))
    out.append(_gauge({"__name__": "container_fs_limit_bytes", **inst("api-router", 1)}, 1000, ts))
    out.append(_counter({"__name__": "container_fs_usage_bytes", **inst("analytics-service", 1)}, 2.0, ts, 1000))
    out.append(_gauge({"__name__": "container_fs_limit_bytes", **inst("analytics-service", 1)}, 100000, ts))
    return out


# --- one stack per module -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("catalog")
    rules_dir = tmp / "rules"
    rules_dir.mkdir()
    am = procs.start_alertmanager()
    config = f"""
global: {{evaluation_interval: 1s}}
rule_files: ['{rules_dir}/*.yml']
alerting:
  alertmanagers: [{{static_configs: [{{targets: ['127.0.0.1:{am.port}']}}]}}]
"""
    # A 1s resend delay: the first evaluation can run before the notifier has discovered Alertmanager.
    prom = procs.start_prometheus(config, rules_dir=rules_dir, extra_args=["--rules.alert.resend-delay=1s"])
    now = time.time()
    # One write with all history, oldest first: the first sample appended to an empty head sets its time,
    # and a sample more than an hour older than that is refused.
    series = [*tenant_series(BAD, now), *tenant_series(GOOD, now), *instance_series(now)]
    push(f"{prom.url}/api/v1/write", sorted(series, key=lambda s: s[1][0][0]))
    # The platform series (recording rules over every org's requests), as the portal's rule sync writes them.
    (rules_dir / "portal-platform-series.yml").write_text(platform_series.rules_yaml())
    yield {"prom": prom, "am": am, "rules_dir": rules_dir, "tmp": tmp}
    prom.cleanup()
    am.cleanup()


@pytest.fixture
def wired(stack: dict[str, Any], settings: Any, tmp_path: Path) -> dict[str, Any]:
    settings.PROMETHEUS_URL, settings.PROMETHEUS_RULES_DIR = stack["prom"].url, stack["rules_dir"]
    settings.ALERTMANAGER_URL, settings.ALERTMANAGER_CONFIG_FILE = stack["am"].url, stack["am"].files["config"]
    settings.PORTAL_VAR_DIR = tmp_path
    # Nothing listens there: the history webhook's failures stay inside Alertmanager.
    settings.ALERTS_HOOK_BASE_URL = f"http://127.0.0.1:{procs.free_port()}"
    return stack


@pytest.fixture
def prices(db: Any) -> None:
    ModelPrice.objects.update_or_create(model="gpt-4o", defaults={"usd_per_1k_input": Decimal("0.005"),
                                                                 "usd_per_1k_output": Decimal("0.015")})


def am_alerts(am: procs.Proc, **labels: str) -> list[dict[str, Any]]:
    flt = [f'{k}="{v}"' for k, v in labels.items()]
    resp = httpx.get(f"{am.url}/api/v2/alerts", params={"filter": flt, "silenced": "false"}, timeout=10)
    resp.raise_for_status()
    alerts: list[dict[str, Any]] = resp.json()
    return alerts


def prom_rules(prom: procs.Proc) -> list[dict[str, Any]]:
    groups = httpx.get(f"{prom.url}/api/v1/rules", timeout=10).json()["data"]["groups"]
    return [r for g in groups for r in g["rules"] if r["type"] == "alerting"]


def create_rules(client: APIClient) -> dict[str, int]:
    """One rule per template (key), plus `<key>:platform` for the platform-scoped variants."""
    wanted = [(key, key, TENANT_PARAMS.get(key, {})) for key in PROM_TEMPLATES]
    wanted += [(f"{key}:platform", key, {"scope": "platform"}) for key in PLATFORM_SCOPED]
    ids = {}
    for name, key, params in wanted:
        r = client.post("/api/v1/alerts/rules/from-template/",
                        {"template": key, "params": params, "for_duration": "0s", "name": name.replace(":", " ")},
                        format="json")
        assert r.status_code == 201, (name, r.content)
        ids[name] = r.json()["id"]
    return ids


# --- promtool -------------------------------------------------------------------------------------

def test_every_tenant_template_renders_a_promtool_clean_rule_file(api_alice: APIClient, org_a: Organization,
                                                                 prices: None, alert_files: Path) -> None:
    wanted = [*((k, "org") for k in sorted(TEMPLATES)), *((k, "platform") for k in PLATFORM_SCOPED)]
    for key, scope in wanted:
        params = {"scope": scope} if scope == "platform" else {}
        r = api_alice.post("/api/v1/alerts/rules/from-template/",
                           {"template": key, "params": params, "name": f"{key} {scope}"}, format="json")
        assert r.status_code == 201, (key, r.content)
    export = api_alice.get("/api/v1/alerts/rules/export/").content.decode()
    checks.check_rules(export)
    rules = {r["labels"]["portal_rule"]: r for g in yaml.safe_load(export)["groups"] for r in g["rules"]}
    by_key = {rule.template: rules[str(rule.pk)] for rule in Rule.objects.for_org(org_a).order_by("-id")
              if rule.kind != "log" and "platform" not in rule.name}
    assert set(by_key) == set(PROM_TEMPLATES)
    for key, doc in by_key.items():
        assert 'org_id="acme"' in doc["expr"] and doc["labels"]["org_id"] == "acme", key
        assert "node_" not in doc["expr"], key  # the platform exports no node_exporter series
    for rule in Rule.objects.for_org(org_a).filter(name__endswith=" platform"):
        assert 'platform:gen_ai_model_' in rules[str(rule.pk)]["expr"] and 'org_id=""' in rules[str(rule.pk)]["expr"]
    # The spend forecast is stored with the price macro and rendered as plain PromQL.
    spend = Rule.objects.for_org(org_a).get(template="spend_quota_forecast")
    assert "$__price_per_1k(input)" in spend.query
    assert "$__price" not in by_key["spend_quota_forecast"]["expr"]
    assert 'label_replace(vector(0.005), "gen_ai_request_model", "gpt-4o"' in by_key["spend_quota_forecast"]["expr"]
    assert "predict_linear" in by_key["token_quota_forecast"]["expr"]
    assert 'resource="tokens"' in by_key["token_quota_forecast"]["expr"]


def test_retired_resource_templates_are_staff_templates_now() -> None:
    assert not {"memory_high", "cpu_high", "disk_high", "disk_full_forecast"} & set(TEMPLATES)
    assert {"instance_down", "service_down", "memory_saturation", "cpu_saturation", "disk_saturation",
            "disk_full_forecast"} == set(PLATFORM_TEMPLATES)


def test_bad_template_params_are_400(api_alice: APIClient, alert_files: Path) -> None:
    for key, params in [("token_quota_forecast", {"lookback": "6 hours"}), ("model_ttft_p95", {"seconds": "slow"}),
                        ("service_error_share", {"service": "a\nb"}), ("model_error_share", {"scope": "all"})]:
        r = api_alice.post("/api/v1/alerts/rules/from-template/", {"template": key, "params": params}, format="json")
        assert r.status_code == 400 and r.json()["error"]["details"]["field"] == "params", (key, r.content)


def test_spend_forecast_without_prices_is_a_clear_409(api_alice: APIClient, alert_files: Path) -> None:
    ModelPrice.objects.all().delete()
    r = api_alice.post("/api/v1/alerts/rules/from-template/", {"template": "spend_quota_forecast"}, format="json")
    assert r.status_code == 409 and r.json()["error"]["code"] == "no_prices", r.content
    assert not Rule.objects.exists()


def test_platform_rule_file_is_shipped_and_promtool_clean() -> None:
    assert SHIPPED.read_text() == platform_rules_yaml()
    checks.check_rules(SHIPPED.read_text())
    checks.check_rules(platform_rules_yaml({key: {"for": "0s", "share": 0.5} for key in PLATFORM_TEMPLATES},
                                           label="tenant"))
    prometheus_yml = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    assert "/etc/prometheus/platform/*.yml" in prometheus_yml["rule_files"]
    compose = (ROOT / "docker-compose.yml").read_text()
    assert "platform-alerts.yml:/etc/prometheus/platform/platform-alerts.yml" in compose
    for rule in platform_rules()["groups"][0]["rules"]:
        assert 'org_id=""' in rule["expr"] and rule["labels"]["scope"] == "platform", rule["alert"]


# --- end to end -----------------------------------------------------------------------------------

def test_tenant_templates_fire_for_their_org_only(wired: dict[str, Any], api_alice: APIClient,
                                                  api_charlie: APIClient, org_a: Organization,
                                                  org_b: Organization, prices: None) -> None:
    prom, am = wired["prom"], wired["am"]
    for name, expr in platform_series.DEFAULT_PLATFORM_SERIES.items():  # the seeded rows (flushed by now)
        PlatformSeries.objects.get_or_create(name=name, defaults={"expr": expr})
    platform_series.invalidate()
    acme, globex = create_rules(api_alice), create_rules(api_charlie)
    for org in (org_a, org_b):
        errors = {r.template: r.sync_error for r in Rule.objects.for_org(org) if r.sync_state != "synced"}
        assert not errors, errors

    def arrived() -> dict[str, dict[str, Any]]:
        got = {}
        for alert in am_alerts(am, org_id=BAD):
            rule_id = alert["labels"].get("portal_rule")
            got.update({key: alert for key, rid in acme.items() if str(rid) == rule_id})
        return got if set(got) == set(acme) else {}

    try:
        fired = wait_for(arrived, timeout=90, what="every tenant template firing for acme")
    except AssertionError:
        seen = {a["labels"].get("portal_rule") for a in am_alerts(am, org_id=BAD)}
        missing = {k for k, rid in acme.items() if str(rid) not in seen}
        health = {r["labels"].get("portal_rule"): (r["health"], r.get("lastError"), r["state"])
                  for r in prom_rules(prom)}
        state = {k: health.get(str(acme[k])) for k in missing}
        raise AssertionError(f"not fired: {missing}; rules: {state}") from None
    for key, alert in fired.items():
        assert alert["labels"]["org_id"] == BAD and alert["labels"]["alertname"], key
        assert alert["annotations"]["summary"], key

    # Platform-scoped rules read every org's requests together: globex's fire too, with globex's label.
    def platform_scoped() -> list[dict[str, Any]]:
        alerts = [a for a in am_alerts(am, org_id=GOOD)
                  if a["labels"].get("portal_rule") in {str(globex[f"{k}:platform"]) for k in PLATFORM_SCOPED}]
        return alerts if len(alerts) == len(PLATFORM_SCOPED) else []

    wait_for(platform_scoped, timeout=30, what="globex's platform-scoped model rules")
    platform_rule = Rule.objects.for_org(org_b).get(pk=globex["model_ttft_p95:platform"])
    assert platform_rule.query.startswith("platform:gen_ai_model_ttft_p95:seconds_rate5m")

    # globex's own-traffic rules have been evaluated (healthy) since the data arrived, and none fires.
    started = time.time()
    globex_ids = {str(v) for k, v in globex.items() if not k.endswith(":platform")}

    def evaluated() -> bool:
        mine = [r for r in prom_rules(prom) if r["labels"].get("portal_rule") in globex_ids]
        return len(mine) == len(globex_ids) and all(
            r["health"] == "ok" and r["lastEvaluation"] > time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(started))
            for r in mine)

    wait_for(evaluated, timeout=30, what="globex's rules evaluated")
    firing = [r for r in prom_rules(prom) if r["labels"].get("portal_rule") in globex_ids and r["state"] != "inactive"]
    assert firing == []
    assert not [a for a in am_alerts(am, org_id=GOOD) if a["labels"].get("portal_rule") in globex_ids]


def test_month_to_date_counts_the_full_hours_of_the_evaluation_month(wired: dict[str, Any]) -> None:
    # One per hour-aligned step: the count is the number of full hours since the month began, at any
    # evaluation time (the `@ end()` quota sample names the month inside the 31-day subquery).
    at = time.time()
    expr = month_to_date("vector(1)", 'org_quota_limit{resource="tokens",org_id="acme"}')
    resp = httpx.get(f"{wired['prom'].url}/api/v1/query", params={"query": expr, "time": at}, timeout=30).json()
    assert resp["status"] == "success", resp
    [sample] = resp["data"]["result"]
    month_start = datetime.fromtimestamp(at, UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    assert float(sample["value"][1]) == (at - month_start.timestamp()) // 3600


def test_platform_templates_fire_from_prometheus_rule_files(wired: dict[str, Any]) -> None:
    prom, am = wired["prom"], wired["am"]
    text = platform_rules_yaml({key: {"for": "0s"} for key in PLATFORM_TEMPLATES})
    (wired["rules_dir"] / "platform-alerts.yml").write_text(text)
    assert httpx.post(f"{prom.url}/-/reload", timeout=30).status_code == 200
    expected = {
        ("PlatformInstanceDown", "instance", "api-router-0:8080"),
        ("PlatformInstanceDown", "instance", "user-org-service-0:8080"),
        ("PlatformServiceDown", "service_name", "user-org-service"),
        ("PlatformMemorySaturation", "instance", "analytics-service-0:8080"),
        ("PlatformCPUSaturation", "instance", "model-serving-0:8080"),
        ("PlatformDiskSaturation", "instance", "api-router-1:8080"),
        ("PlatformDiskFullForecast", "instance", "analytics-service-1:8080"),
    }

    def seen() -> set[tuple[str, str, str]]:
        out = set()
        for alert in am_alerts(am, scope="platform"):
            labels = alert["labels"]
            for name, key, value in expected:
                if labels["alertname"] == name and labels.get(key) == value:
                    out.add((name, key, value))
        return out if out == expected else set()

    try:
        wait_for(seen, timeout=60, what="every platform template firing")
    except AssertionError:
        state = [(r["name"], r["health"], r.get("lastError"), r["state"]) for r in prom_rules(prom)]
        raise AssertionError(f"rules: {state}") from None
    platform = am_alerts(am, scope="platform")
    assert all("org_id" not in a["labels"] for a in platform)
    fired = {(a["labels"]["alertname"], a["labels"].get("instance") or a["labels"].get("service_name"))
             for a in platform}
    # An org's own target of 0 is not a platform instance; a service with one instance up is not down;
    # an unlimited container (limit 0) is never saturated.
    assert not {a for a in fired if "tenant-exporter" in str(a[1])}
    assert ("PlatformServiceDown", "api-router") not in fired
    assert ("PlatformMemorySaturation", "model-serving-0:8080") not in fired
    assert {a for a in fired if a[0] == "PlatformMemorySaturation"} == {
        ("PlatformMemorySaturation", "analytics-service-0:8080")}


def test_platform_alerts_reach_the_staff_receiver_and_org_alerts_never_do(
        wired: dict[str, Any], settings: Any, api_alice: APIClient, org_a: Organization) -> None:
    """With PLATFORM_ALERTS_WEBHOOK_URL set, the generated Alertmanager config routes the platform's alerts
    (scope="platform", no org label) to staff; an org rule that labels itself scope=platform stays on the
    org's own route (it carries the org label, which the staff route requires empty)."""
    from alerts_app import sync
    from alerts_app.apps import platform_alert_settings
    from tests.alerts.receivers import HttpRecorder

    prom, am = wired["prom"], wired["am"]
    staff = HttpRecorder()
    settings.PLATFORM_ALERTS_WEBHOOK_URL = staff.url + "/staff"
    settings.PLATFORM_ALERTS_GROUP_WAIT = "1s"
    assert platform_alert_settings() == []
    try:
        (wired["rules_dir"] / "platform-alerts.yml").write_text(
            platform_rules_yaml({key: {"for": "0s"} for key in PLATFORM_TEMPLATES}))
        r = api_alice.post("/api/v1/alerts/rules/", {
            "name": "claims to be platform", "query": 'up{job="tenant-exporter"}', "comparator": "==",
            "threshold": 0, "for_duration": "0s", "severity": "critical", "labels": {"scope": "platform"}},
            format="json")
        assert r.status_code == 201, r.content
        report = sync.reconcile()
        assert not report.errors, report.errors
        assert httpx.post(f"{prom.url}/-/reload", timeout=30).status_code == 200
        org_rule = str(r.json()["id"])

        def delivered() -> list[dict[str, Any]]:
            alerts = [a for req in staff.at("/staff") for a in req["json"]["alerts"]]
            return alerts if any(a["labels"]["alertname"] == "PlatformInstanceDown" for a in alerts) else []

        alerts = wait_for(delivered, timeout=60, what="a platform alert at the staff webhook")
        wait_for(lambda: am_alerts(am, portal_rule=org_rule), timeout=60, what="the org's scope=platform alert")
        time.sleep(3)  # past the staff route's group_wait: a wrongly routed org alert would have arrived by now
        alerts = [a for req in staff.at("/staff") for a in req["json"]["alerts"]]
        assert alerts and all(a["labels"]["scope"] == "platform" and "org_id" not in a["labels"] for a in alerts)
        assert not [a for a in alerts if "portal_rule" in a["labels"]]
    finally:
        staff.stop()


def test_a_wrong_staff_destination_is_refused_at_start(settings: Any) -> None:
    from alerts_app.apps import platform_alert_settings

    settings.PLATFORM_ALERTS_EMAIL = "ops@example.com, not an address"
    settings.PLATFORM_ALERTS_WEBHOOK_URL = "ftp://hooks.example/x"
    settings.PLATFORM_ALERTS_GROUP_WAIT = "soon"
    assert [e.id for e in platform_alert_settings()] == ["alerts.E001", "alerts.E002", "alerts.E003"]
