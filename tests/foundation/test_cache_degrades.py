"""The shared cache (Redis) stopped in the middle of a mixed load on a live server: dashboard data, the
Prometheus API, log search and OTLP ingest keep answering (no 5xx but 503), the outage is logged once,
and every OTLP batch the server acknowledged is stored. A private redis-server is stopped, never the
shared one."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from portal.core import cache
from portal.core.metrics import CACHE_UNAVAILABLE
from portal.tenancy import services
from portal.tenancy.models import Organization
from tests import procs
from tests.logs.conftest import logs_request

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.backends]

REQUESTS = 200
OUTAGE = range(80, 140)  # requests sent while Redis is stopped


@pytest.fixture
def private_redis(settings: Any) -> Iterator[procs.Proc]:
    proc = procs.start_redis()
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": proc.url,
                                   "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2}}}
    yield proc
    proc.cleanup()


def _keys(proc: procs.Proc) -> int:
    client = redis.Redis.from_url(proc.url)
    try:
        return int(client.dbsize())
    finally:
        client.close()


def _unavailable() -> float:
    return sum(m.value for metric in CACHE_UNAVAILABLE.collect() for m in metric.samples
               if m.name.endswith("_total"))


def test_redis_stopped_under_mixed_load(live_server: Any, private_redis: procs.Proc, prometheus: procs.Proc,
                                        settings: Any, org_a: Organization, alice: Any, ingest_a: str,
                                        caplog: pytest.LogCaptureFixture) -> None:
    settings.PROMETHEUS_URL = prometheus.url
    settings.LOGS_INGEST_RECORDS_PER_SECOND = 1_000_000  # high, but counted: the rate counter is exercised
    _, token = services.create_api_token(org_a, alice, "load", "read")
    api = {"Authorization": f"Bearer {token}"}
    caplog.set_level(logging.WARNING, logger=cache.__name__)
    failures_before = _unavailable()

    def dashboard(c: httpx.Client, i: int) -> httpx.Response:
        return c.get("/api/v1/builtin-dashboards/api-router/data/", params={"from": "now-5m", "to": "now"},
                     headers=api)

    def promql(c: httpx.Client, i: int) -> httpx.Response:
        return c.get("/prometheus/api/v1/query", params={"query": f"sum(up) + {i % 7}"}, headers=api)

    def search(c: httpx.Client, i: int) -> httpx.Response:
        return c.get("/api/v1/logs/search", params={"q": "service=cache-outage", "start": "now-1h"}, headers=api)

    def ingest(c: httpx.Client, i: int) -> httpx.Response:
        body = logs_request([{"body": f"cache-outage-{i}"}], service="cache-outage").SerializeToString()
        return c.post("/otlp/v1/logs", content=body, headers={"Authorization": f"Bearer {ingest_a}",
                                                              "Content-Type": "application/x-protobuf"})

    kinds = [dashboard, promql, search, ingest]
    statuses: dict[str, list[tuple[int, int]]] = {k.__name__: [] for k in kinds}
    acknowledged: set[str] = set()
    with httpx.Client(base_url=live_server.url, timeout=30.0) as c:
        for i in range(REQUESTS):
            if i == OUTAGE.start:
                assert _keys(private_redis) > 0  # the load really used this Redis
                private_redis.stop()
            if i == OUTAGE.stop:
                private_redis.start()
            kind = kinds[i % len(kinds)]
            resp = kind(c, i)
            statuses[kind.__name__].append((i, resp.status_code))
            if kind is ingest and resp.status_code == 200:
                acknowledged.add(f"cache-outage-{i}")

    for name, seen in statuses.items():
        bad = [(i, s) for i, s in seen if s >= 500 and s != 503]
        assert not bad, (name, bad)
        # Degraded, not refused: every kind answered while Redis was down.
        assert any(s == 200 for i, s in seen if i in OUTAGE), (name, seen)
    assert _keys(private_redis) > 0  # back in use after the restart

    # The outage was noticed (counted per operation) and logged once, and its end once.
    assert _unavailable() > failures_before
    messages = [r.getMessage() for r in caplog.records if r.name == cache.__name__]
    assert sum("shared cache unavailable" in m for m in messages) == 1, messages
    assert sum(m == "shared cache is back" for m in messages) == 1, messages

    # Every batch the server acknowledged is in the store.
    with httpx.Client(base_url=live_server.url, timeout=30.0) as c:
        found = c.get("/api/v1/logs/search", params={"q": "service=cache-outage", "start": "now-1h",
                                                      "limit": 1000}, headers=api)
    assert found.status_code == 200, found.text
    stored = {r["body"] for r in found.json()["records"]}
    assert len(acknowledged) >= REQUESTS // len(kinds) - len(OUTAGE) // len(kinds)
    assert acknowledged <= stored, sorted(acknowledged - stored)
