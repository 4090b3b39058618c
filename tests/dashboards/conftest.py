"""Fixtures of the dashboards tests: the demo deployment (dashboards_app.demo.workload) served in-process
and a real Prometheus that scrapes every instance of it every second and evaluates the shipped platform
recording rules (metrics_app.platform_series.rules_yaml()), set as the org datasource
(settings.PROMETHEUS_URL)."""

from __future__ import annotations

import importlib
import tempfile
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from dashboards_app.demo import workload
from tests import procs

# Series every built-in dashboard reads; the platform recording rules are added from platform_series.
DEMO_SERIES = (
    "http_server_request_duration_seconds_bucket", "gen_ai_client_token_usage_bucket",
    "gen_ai_server_time_to_first_token_seconds_bucket", "gen_ai_server_request_duration_seconds_bucket",
    "router_requests_total", "router_upstream_errors_total", "router_routing_duration_seconds_bucket",
    "auth_logins_total", "auth_failures_total", "active_users", "tokens_issued_total",
    "user_management_operations_total", "usage_events_processed_total", "org_quota_limit",
    "process_cpu_seconds_total", "process_resident_memory_bytes", "container_spec_memory_limit_bytes",
    "container_spec_cpu_quota", "container_spec_cpu_period", "container_fs_usage_bytes",
    "container_fs_limit_bytes", "queue_depth", "rollup_lag_seconds", "rollup_duration_seconds_bucket",
)


def instance_count() -> int:
    return sum(workload.SERVICES.values())


@pytest.fixture(scope="session")
def demo_workload() -> Iterator[tuple[str, int]]:
    port = procs.free_port()
    server = workload.serve(port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield ("127.0.0.1", port)
    server.shutdown()
    server.server_close()


def platform_rules() -> tuple[str, list[str]]:
    """The shipped platform recording rules (file text) and their names."""
    from metrics_app import platform_series

    return platform_series.rules_yaml(), sorted(platform_series.DEFAULT_PLATFORM_SERIES)


def _ready(prom_url: str, names: list[str]) -> list[str]:
    """What is still missing: a series without two samples in the last minute (so rates are defined)."""
    missing = []
    r = httpx.get(prom_url + "/api/v1/query", params={"query": f"count(up == 1) >= {instance_count()}"})
    if not r.json()["data"]["result"]:
        missing.append("up")
    for name in names:
        q = f'count(count_over_time({{__name__="{name}"}}[1m]) >= 2)'
        r = httpx.get(prom_url + "/api/v1/query", params={"query": q})
        if not r.json()["data"]["result"]:
            missing.append(name)
    return missing


@pytest.fixture(scope="session")
def demo_prometheus(demo_workload: tuple[str, int]) -> Iterator[procs.Proc]:
    """Prometheus scraping the demo deployment at 1 s and evaluating the platform rules at 1 s; returned
    once every demo series and every platform:* series has samples."""
    host, port = demo_workload
    rules_text, platform_names = platform_rules()
    rules_dir = Path(tempfile.mkdtemp(prefix="demo-rules-"))
    (rules_dir / "portal-platform-series.yml").write_text(rules_text)
    config = (f"global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {rules_dir}/*.yml\n"
              "scrape_configs:\n" + workload.scrape_config(host, port, interval="1s"))
    prom = procs.start_prometheus(config=config, rules_dir=rules_dir)
    deadline, missing = time.monotonic() + 90, ["everything"]
    while time.monotonic() < deadline:
        missing = _ready(prom.url, [*DEMO_SERIES, *platform_names])
        if not missing:
            break
        time.sleep(1)
    else:
        prom.cleanup()
        raise RuntimeError(f"the demo deployment's series did not appear within 90 s: {missing}")
    time.sleep(2)  # a few more samples, so rates over short windows are defined everywhere
    yield prom
    prom.cleanup()


@pytest.fixture
def live_prom(demo_prometheus: procs.Proc, settings: Any) -> procs.Proc:
    """The demo Prometheus as the datasource, with the shipped platform series allowed for every org.

    The rows (and the model prices) come from data migrations, which a transactional test's flush empties
    for the tests after it: put back the defaults (and drop the cached allow-list) so that every test
    starts the same way."""
    from dashboards_app.models import ModelPrice
    from metrics_app import platform_series
    from metrics_app.models import PlatformSeries

    settings.PROMETHEUS_URL = demo_prometheus.url
    for name, expr in platform_series.DEFAULT_PLATFORM_SERIES.items():
        PlatformSeries.objects.get_or_create(name=name, defaults={"expr": expr})
    platform_series.invalidate()
    # The demo models' list prices (seeded by a migration too), which the AI usage dashboard's spend needs.
    seeded = importlib.import_module("dashboards_app.migrations.0002_modelprice").DEFAULT_PRICES
    for model, (usd_in, usd_out) in seeded.items():
        ModelPrice.objects.get_or_create(model=model, defaults={"usd_per_1k_input": Decimal(usd_in),
                                                                "usd_per_1k_output": Decimal(usd_out)})
    return demo_prometheus


@pytest.fixture(autouse=True)
def _quiet_httpx() -> None:
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)
