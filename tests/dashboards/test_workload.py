"""The demo workload: what it serves, that values move, and that its scrape config is valid."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from dashboards_app.demo import workload


def parse(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def test_every_service_and_org_is_served_and_values_move(demo_workload: tuple[str, int]) -> None:
    host, port = demo_workload
    for service in workload.SERVICES:
        for org in workload.ORGS:
            r = httpx.get(f"http://{host}:{port}/metrics/{service}/{org}")
            assert r.status_code == 200
            first = parse(r.text)
            assert any(k.startswith("http_requests_total{") for k in first)
            assert any(k.startswith("http_request_duration_seconds_bucket{") for k in first)
            assert "process_resident_memory_bytes{}" in first and "disk_used_bytes{}" in first
            assert "org_id" not in r.text  # the target label carries the org, never the payload
    time.sleep(1.1)
    a = parse(httpx.get(f"http://{host}:{port}/metrics/api-router/acme").text)
    time.sleep(1.1)
    b = parse(httpx.get(f"http://{host}:{port}/metrics/api-router/acme").text)
    moved = [k for k in a if k in b and a[k] != b[k]]
    assert len(moved) > 10
    assert all(b[k] >= a[k] for k in a if k.endswith("_total") or "_total{" in k)  # counters never go down
    assert httpx.get(f"http://{host}:{port}/metrics/nope/acme").status_code == 404
    allm = httpx.get(f"http://{host}:{port}/metrics").text
    assert 'org_id="initech"' in allm and 'service="analytics-service"' in allm


def test_service_specific_metrics() -> None:
    w = workload.Workload()
    assert "router_requests_total{model=\"gpt-4o\"}" in (w.render("api-router", "acme") or "")
    uos = w.render("user-org-service", "globex") or ""
    for name in ("auth_logins_total", "auth_failures_total", "active_users", "user_management_operations_total",
                 "tokens_issued_total"):
        assert name in uos
    ana = w.render("analytics-service", "initech") or ""
    for name in ("usage_events_processed_total", "rollup_duration_seconds_bucket", "rollup_lag_seconds", "queue_depth"):
        assert name in ana


def test_scrape_config_is_valid_prometheus_config(tmp_path: Path) -> None:
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text("scrape_configs:\n" + workload.scrape_config("127.0.0.1", 9464))
    promtool = shutil.which("promtool") or "/usr/bin/promtool"
    r = subprocess.run([promtool, "check", "config", str(cfg)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr + r.stdout
    assert workload.scrape_config("h", 1).count("__metrics_path__") == 9


def test_cli_prints_scrape_config(capsys: pytest.CaptureFixture[str]) -> None:
    workload.main(["--port", "9999", "--print-scrape-config", "--orgs", "acme,globex"])
    out = capsys.readouterr().out
    assert "job_name: demo-workload" in out and out.count("__metrics_path__") == 6
