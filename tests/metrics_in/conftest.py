"""Fixtures for the metrics-in gateway: a real Prometheus wired as the platform datasource, helpers to
send remote write / OTLP through the Django test client and to read Prometheus back directly."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from django.test import Client

from metrics_in_app import remote_pb
from metrics_in_app.forwarder import FORWARDER
from metrics_in_app.limits import COUNTERS
from tests import procs


@pytest.fixture(autouse=True)
def _fresh_counters() -> Iterator[None]:
    COUNTERS.reset()
    yield
    COUNTERS.reset()


@pytest.fixture
def prom(settings: Any) -> Iterator[procs.Proc]:
    """A real Prometheus (remote-write receiver on) as the platform datasource; fast retries in tests."""
    p = procs.start_prometheus()
    settings.PROMETHEUS_URL = p.url
    settings.METRICS_IN_FORWARD_DEADLINE_SECONDS = 3.0
    settings.METRICS_IN_RETRY_AFTER_SECONDS = 2
    settings.PROMETHEUS_FILE_SD_DIR = p.files["file_sd_dir"]
    yield p
    p.cleanup()
    FORWARDER.__init__()  # type: ignore[misc]  # drop pooled connections to the stopped server


def prom_query(url: str, promql: str) -> list[dict[str, Any]]:
    r = httpx.get(url + "/api/v1/query", params={"query": promql}, timeout=10)
    r.raise_for_status()
    return list(r.json()["data"]["result"])


def wait_for(url: str, promql: str, n: int = 1, timeout: float = 15.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    result: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        result = prom_query(url, promql)
        if len(result) >= n:
            return result
        time.sleep(0.2)
    return result


def write_request(series: list[tuple[dict[str, str], list[tuple[int, float]]]]) -> bytes:
    wr = remote_pb.WriteRequest()
    for labels, samples in series:
        ts = wr.timeseries.add()
        for k, v in sorted(labels.items()):
            ts.labels.add(name=k, value=v)
        for t, v in samples:
            ts.samples.add(timestamp=t, value=v)
    return remote_pb.encode(wr)


def now_ms() -> int:
    return int(time.time() * 1000)


def post_rw(client: Client, token: str | None, body: bytes) -> Any:
    extra = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.post("/prometheus/api/v1/write", data=body, content_type="application/x-protobuf",
                       HTTP_CONTENT_ENCODING="snappy", **extra)


def post_otlp(client: Client, token: str | None, body: bytes, content_type: str = "application/x-protobuf",
              **headers: str) -> Any:
    extra = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.post("/otlp/v1/metrics", data=body, content_type=content_type, **extra, **headers)
