"""A real Prometheus as the remote-write client: it scrapes itself and pushes to the portal with the org's
ingest token (claiming org B in its external labels); the samples land in the backend under org A."""

from __future__ import annotations

from typing import Any

import pytest

from tests import procs
from tests.metrics_in.conftest import prom_query, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_prometheus_remote_writes_through_portal(prom: Any, live_server: Any, ingest_a: str) -> None:
    port = procs.free_port()
    config = f"""
global:
  scrape_interval: 1s
  external_labels:
    org_id: globex
scrape_configs:
  - job_name: sender
    static_configs:
      - targets: ['127.0.0.1:{port}']
remote_write:
  - url: {live_server.url}/prometheus/api/v1/write
    authorization:
      credentials: {ingest_a}
    write_relabel_configs:
      - source_labels: [__name__]
        regex: up|prometheus_build_info
        action: keep
    queue_config:
      batch_send_deadline: 1s
"""
    sender = procs.start_prometheus(config, port=port)
    try:
        found = wait_for(prom.url, 'up{job="sender"}', timeout=40)
        assert found, "nothing arrived from the sending Prometheus"
        metric = found[0]["metric"]
        assert metric["org_id"] == "acme" and metric["exported_org_id"] == "globex"
        assert wait_for(prom.url, "prometheus_build_info", timeout=20)[0]["metric"]["org_id"] == "acme"
        assert prom_query(prom.url, '{org_id="globex"}') == []
    finally:
        sender.cleanup()
