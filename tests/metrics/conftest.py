"""Fixtures for the metrics federation tests: a real Redis cache DB of our own, and a real Prometheus
holding three orgs' data (written by remote write) plus platform series without an org label."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from tests import procs
from tests.metrics import remote_write

REDIS_URL = os.environ.get("METRICS_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")

# Each org's samples live in a distinct magnitude, so any leak shows in the numbers: acme's values are
# below 1000, globex's are 1e3.., initech's 1e6.., platform (no org label) 1e9.
MAGNITUDE = {"acme": 1.0, "globex": 1_000.0, "initech": 1_000_000.0, "acme2": 1_000.0, None: 1e9}
ORG_SERIES = 6  # series per org written below


@pytest.fixture(autouse=True)
def _metrics_cache(settings: Any) -> Iterator[None]:
    """The result cache on a real Redis DB reserved for these tests, emptied around each test."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": REDIS_URL}}
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield
    client.flushdb()
    client.close()


def three_org_series(now_ms: int, points: int = 41, step_ms: int = 15_000) -> list[remote_write.Series]:
    series: list[remote_write.Series] = []
    stamps = [now_ms - (points - 1 - i) * step_ms for i in range(points)]
    for org in ("acme", "globex", "initech", "acme2", None):
        mag = MAGNITUDE[org]
        base = {"org_id": org} if org else {}
        label = org or "platform"
        defs: list[tuple[dict[str, str], float]] = [
            ({"__name__": "up", "job": "api", "instance": f"{label}-1"}, 1.0),
            ({"__name__": "http_requests_total", "job": "api", "route": "/a", "code": "200"}, 0.0),
            ({"__name__": "http_requests_total", "job": "api", "route": "/a", "code": "500"}, 0.0),
            ({"__name__": "http_requests_total", "job": "api", "route": "/b", "code": "200"}, 0.0),
            ({"__name__": "org_secret_info", "secret": f"{label}-secret"}, 1.0),
            ({"__name__": f"only_{label}_metric", "job": "api"}, 2.0),
        ]
        for labels, const in defs:
            samples = [(t, (const if const else float(i)) * mag) for i, t in enumerate(stamps)]
            series.append(({**labels, **base}, samples))
    return series


@pytest.fixture(scope="module")
def prom3() -> Iterator[procs.Proc]:
    """A real Prometheus with acme, globex and initech series (and decoys: `acme2`, no org label)."""
    p = procs.start_prometheus()
    now_ms = int(time.time() * 1000)
    remote_write.push(p.url + "/api/v1/write", three_org_series(now_ms))
    p.files["now_ms"] = now_ms  # type: ignore[assignment]
    yield p
    p.cleanup()


@pytest.fixture
def prom_env(settings: Any, prom3: procs.Proc) -> procs.Proc:
    """PROMETHEUS_URL points at prom3: the env-synthesised default datasource, no DB row needed."""
    settings.PROMETHEUS_URL = prom3.url
    return prom3
