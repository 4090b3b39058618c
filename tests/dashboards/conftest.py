"""Fixtures of the dashboards tests: the demo workload served in-process and a real Prometheus that
scrapes it every second, set as the org datasource (settings.PROMETHEUS_URL)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from dashboards_app.demo import workload
from tests import procs


@pytest.fixture(scope="session")
def demo_workload() -> Iterator[tuple[str, int]]:
    port = procs.free_port()
    server = workload.serve(port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield ("127.0.0.1", port)
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def demo_prometheus(demo_workload: tuple[str, int]) -> Iterator[procs.Proc]:
    """Prometheus scraping the demo workload at 1 s; returned once every built-in metric has samples."""
    host, port = demo_workload
    config = ("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n"
              + workload.scrape_config(host, port, interval="1s"))
    prom = procs.start_prometheus(config=config)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        r = httpx.get(prom.url + "/api/v1/query",
                      params={"query": "count(rate(http_requests_total[1m]) > 0) and count(up == 1) >= 9 and "
                              "count(predict_linear(sum(rate(process_cpu_seconds_total[5m]))[1h:5s], 60))"})
        if r.json()["data"]["result"]:
            break
        time.sleep(0.5)
    else:
        raise RuntimeError("the demo workload's series did not appear within a minute")
    time.sleep(2)  # a few more samples, so rates over short windows are defined everywhere
    yield prom
    prom.cleanup()


@pytest.fixture
def live_prom(demo_prometheus: procs.Proc, settings: Any) -> procs.Proc:
    settings.PROMETHEUS_URL = demo_prometheus.url
    return demo_prometheus


@pytest.fixture(autouse=True)
def _quiet_httpx() -> None:
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)
