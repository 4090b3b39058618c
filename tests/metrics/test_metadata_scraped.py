"""metadata: Prometheus's metadata API is not label-aware, so the portal filters it to the org's own
metric names. Real exporters (prometheus_client) scraped by a real Prometheus, one per org."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from django.test import Client
from prometheus_client import CollectorRegistry, Counter, start_http_server

from portal.tenancy import services
from portal.tenancy.models import Organization
from tests import procs

pytestmark = [pytest.mark.django_db, pytest.mark.backends]

BASE = "/prometheus/api/v1"


@pytest.fixture(scope="module")
def scraped_prom() -> Iterator[procs.Proc]:
    targets = []
    servers = []
    for org in ("acme", "globex"):
        reg = CollectorRegistry()
        Counter(f"{org}_jobs", f"Jobs run by {org}'s workers.", registry=reg).inc(3)
        port = procs.free_port()
        servers.append(start_http_server(port, addr="127.0.0.1", registry=reg))
        targets.append((org, port))
    static = "\n".join(
        f"      - targets: ['127.0.0.1:{port}']\n        labels: {{org_id: '{org}'}}" for org, port in targets)
    config = f"""
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: org-exporters
    honor_labels: false
    static_configs:
{static}
"""
    p = procs.start_prometheus(config)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        meta = httpx.get(p.url + "/api/v1/metadata").json()["data"]
        if {"acme_jobs", "globex_jobs"} <= {k.removesuffix("_total") for k in meta}:
            break
        time.sleep(0.3)
    yield p
    p.cleanup()
    for server in servers:
        server[0].shutdown()


def test_metadata_only_for_the_orgs_metrics(org_a: Organization, alice: Any, operator: Any, settings: Any,
                                            scraped_prom: procs.Proc) -> None:
    settings.PROMETHEUS_URL = scraped_prom.url
    _, secret = services.create_api_token(org_a, alice, "m", "read")
    acme = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    meta = json.loads(acme.get(f"{BASE}/metadata").content)["data"]
    family = "acme_jobs" if "acme_jobs" in meta else "acme_jobs_total"  # OpenMetrics drops _total
    assert meta[family][0]["help"] == "Jobs run by acme's workers."
    assert not {k for k in meta if k.startswith("globex")}
    assert json.loads(acme.get(f"{BASE}/metadata", {"metric": "globex_jobs_total"}).content)["data"] == {}

    _, staff_secret = services.create_api_token(org_a, operator, "m", "read")
    staff = Client(HTTP_AUTHORIZATION=f"Bearer {staff_secret}")
    meta = json.loads(staff.get(f"{BASE}/metadata", HTTP_X_PORTAL_CROSS_ORG="capacity review").content)["data"]
    assert {"acme_jobs", "globex_jobs"} <= {k.removesuffix("_total") for k in meta}
