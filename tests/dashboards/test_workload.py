"""The demo deployment: one shared deployment of several instances per service, what each instance serves,
that values move, which series carry the org (per-request, GenAI) and which never do (instance series),
and that its scrape config is valid and gives each instance its own target."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from dashboards_app.demo import workload
from tests import procs

ORG_SERIES = ("http_server_request_duration_seconds", "gen_ai_client_token_usage",
              "gen_ai_server_time_to_first_token_seconds", "gen_ai_server_request_duration_seconds",
              "router_requests_total", "router_upstream_errors_total", "router_routing_duration_seconds",
              "auth_logins_total", "auth_failures_total", "active_users", "tokens_issued_total",
              "user_management_operations_total", "usage_events_processed_total", "org_quota_limit")
INSTANCE_SERIES = ("process_cpu_seconds_total", "process_resident_memory_bytes",
                   "container_spec_memory_limit_bytes", "container_spec_cpu_quota", "container_spec_cpu_period",
                   "container_fs_usage_bytes", "container_fs_limit_bytes", "queue_depth", "rollup_lag_seconds",
                   "rollup_duration_seconds")
_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"')


def parse(text: str) -> list[tuple[str, dict[str, str], float]]:
    out = []
    for line in text.splitlines():
        if line and not line.startswith("#"):
            m = _LINE.match(line)
            assert m, line
            out.append((m.group(1), dict(_LABEL.findall(m.group(2) or "")), float(m.group(3))))
    return out


def family(name: str) -> str:
    return re.sub(r"_(bucket|sum|count)$", "", name)


def by_key(samples: list[tuple[str, dict[str, str], float]]) -> dict[str, float]:
    return {f"{n}{sorted(lab.items())}": v for n, lab, v in samples}


def test_shared_topology_every_instance_is_served(demo_workload: tuple[str, int]) -> None:
    host, port = demo_workload
    assert workload.SERVICES == {"api-router": 3, "user-org-service": 2, "analytics-service": 2, "model-serving": 2}
    served: dict[str, set[str]] = {}
    for service, replicas in workload.SERVICES.items():
        assert replicas >= 2
        for i in range(replicas):
            r = httpx.get(f"http://{host}:{port}/metrics/{service}/{i}")
            assert r.status_code == 200
            samples = parse(r.text)
            names = {family(n) for n, _, _ in samples}
            served[service] = served.get(service, set()) | names
            assert {"process_cpu_seconds_total", "process_resident_memory_bytes", "container_fs_usage_bytes",
                    "container_spec_cpu_quota", "http_server_request_duration_seconds"} <= names
            # The target supplies job, instance and service_name; the payload never claims them.
            assert not any({"service_name", "instance", "job"} & set(lab) for _, lab, _ in samples)
        assert httpx.get(f"http://{host}:{port}/metrics/{service}/{replicas}").status_code == 404
    assert {"router_requests_total", "router_upstream_errors_total", "router_routing_duration_seconds",
            "gen_ai_client_token_usage"} <= served["api-router"]
    assert {"gen_ai_server_time_to_first_token_seconds", "gen_ai_server_request_duration_seconds"} <= \
        served["model-serving"]
    assert {"auth_logins_total", "auth_failures_total", "active_users", "tokens_issued_total",
            "user_management_operations_total", "org_quota_limit"} <= served["user-org-service"]
    assert {"usage_events_processed_total", "queue_depth", "rollup_lag_seconds", "rollup_duration_seconds"} <= \
        served["analytics-service"]
    assert httpx.get(f"http://{host}:{port}/metrics/nope/0").status_code == 404
    allm = httpx.get(f"http://{host}:{port}/metrics").text
    assert 'service_name="model-serving",instance="1"' in allm and 'org_id="initech"' in allm


def test_org_label_on_per_request_series_never_on_instance_series() -> None:
    w = workload.Workload()
    for (service, index), _ in w.instances.items():
        for name, labels, _ in parse(w.render(service, index) or ""):
            fam = family(name)
            if fam in INSTANCE_SERIES:
                assert "org_id" not in labels, (service, name, labels)
            else:
                assert fam in ORG_SERIES, name
                assert labels["org_id"] in workload.ORGS, (service, name, labels)
    router = parse(w.render("api-router", "0") or "")
    tokens = [lab for n, lab, _ in router if n == "gen_ai_client_token_usage_count"]
    assert {lab["gen_ai_request_model"] for lab in tokens} == set(workload.MODELS) == {
        "gpt-4o", "claude-3-5-sonnet", "llama-3-70b", "mistral-large"}
    assert {lab["gen_ai_token_type"] for lab in tokens} == {"input", "output"}
    # Each org calls with its own keys, and a key's usage carries that key's org.
    assert {(lab["org_id"], lab["api_key"]) for lab in tokens} == {
        (org, f"{org}-{kind}") for org in workload.ORGS for kind in ("prod", "dev")}
    # error_type only on failed model requests.
    serving = parse(w.render("model-serving", "0") or "")
    kinds = {lab.get("error_type") for n, lab, _ in serving if n == "gen_ai_server_request_duration_seconds_count"}
    assert None in kinds and kinds - {None} <= {"timeout", "rate_limited", "upstream_error"}
    # Quotas: one per org and resource, exported once (by the leader instance).
    quotas = [lab for n, lab, _ in parse(w.render("user-org-service", "0") or "") if n == "org_quota_limit"]
    assert sorted((q["org_id"], q["resource"]) for q in quotas) == sorted(
        (o, r) for o in workload.ORGS for r in ("tokens", "spend_usd"))
    assert "org_quota_limit" not in (w.render("user-org-service", "1") or "")


def test_values_move_realistically() -> None:
    w = workload.Workload()
    a = by_key(parse(w.render("api-router", "1") or ""))
    ms_a = by_key(parse(w.render("model-serving", "0") or ""))
    time.sleep(1.2)
    b = by_key(parse(w.render("api-router", "1") or ""))
    ms_b = by_key(parse(w.render("model-serving", "0") or ""))
    moved = [k for k in a if k in b and a[k] != b[k]]
    assert len(moved) > 20
    counters = [k for k in a if "_total" in k or "_count" in k or "_bucket" in k or "_sum" in k]
    assert counters and all(b[k] >= a[k] for k in counters if k in b)  # counters never go down
    # Memory and disk grow (capacity forecasts have a trend); limits stay.
    for key in ms_a:
        if key.startswith(("process_resident_memory_bytes", "container_fs_usage_bytes")):
            assert ms_b[key] != ms_a[key]
        if key.startswith(("container_spec_memory_limit_bytes", "container_fs_limit_bytes")):
            assert ms_b[key] == ms_a[key] > 0
    # Models differ: llama answers its first token faster than claude, on average.
    def mean_ttft(model: str) -> float:
        total = sum(v for k, v in ms_b.items() if k.startswith("gen_ai_server_time_to_first_token_seconds_sum")
                    and f"'{model}'" in k)
        count = sum(v for k, v in ms_b.items() if k.startswith("gen_ai_server_time_to_first_token_seconds_count")
                    and f"'{model}'" in k)
        return total / count
    assert mean_ttft("llama-3-70b") < mean_ttft("claude-3-5-sonnet")


def test_the_org_label_name_is_configurable() -> None:
    text = workload.Workload(org_label="tenant").render("api-router", "0") or ""
    assert 'tenant="acme"' in text and "org_id" not in text


def test_scrape_config_is_valid_and_one_job_per_service(tmp_path: Path) -> None:
    cfg = tmp_path / "prometheus.yml"
    text = workload.scrape_config("127.0.0.1", 9464)
    cfg.write_text("scrape_configs:\n" + text)
    promtool = shutil.which("promtool") or "/usr/bin/promtool"
    r = subprocess.run([promtool, "check", "config", str(cfg)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr + r.stdout
    assert re.findall(r"job_name: (\S+)", text) == list(workload.SERVICES)
    assert text.count("__metrics_path__") == sum(workload.SERVICES.values()) == 9
    assert "service_name: 'model-serving'" in text and "instance: '127.0.0.1:9464/metrics/model-serving/1'" in text


def test_prometheus_sees_each_instance_as_its_own_target(demo_prometheus: procs.Proc) -> None:
    def query(q: str) -> list[dict[str, object]]:
        return httpx.get(demo_prometheus.url + "/api/v1/query", params={"query": q}).json()["data"]["result"]

    up = query("up")
    assert len(up) == 9 and all("org_id" not in s["metric"] for s in up)  # type: ignore[operator]
    per_service: dict[str, int] = {}
    for s in up:
        metric = s["metric"]
        assert isinstance(metric, dict)
        assert metric["job"] == metric["service_name"]
        per_service[metric["service_name"]] = per_service.get(metric["service_name"], 0) + 1
    assert per_service == workload.SERVICES
    # Instance series: per instance, no org. Per-request series: the org of the calling key, per instance.
    assert query('count(process_resident_memory_bytes{org_id!=""})') == []
    assert len(query("process_resident_memory_bytes")) == 9
    orgs = query("count by (org_id, service_name) (http_server_request_duration_seconds_count)")
    assert {(s["metric"]["org_id"], s["metric"]["service_name"]) for s in orgs} == {  # type: ignore[index]
        (o, svc) for o in workload.ORGS for svc in workload.SERVICES}
    routers = query('count by (instance) (router_requests_total{org_id="globex"})')
    assert len(routers) == 3
    # The platform rules answer per service, without any org label.
    plat = query("platform:service_up:ratio")
    assert sorted(s["metric"]["service_name"] for s in plat) == sorted(workload.SERVICES)  # type: ignore[index]


def test_cli_prints_scrape_config(capsys: pytest.CaptureFixture[str]) -> None:
    workload.main(["--port", "9999", "--print-scrape-config"])
    out = capsys.readouterr().out
    assert "job_name: api-router" in out and out.count("__metrics_path__") == 9
