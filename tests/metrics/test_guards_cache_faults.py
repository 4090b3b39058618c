"""Guards (limits → 400/422 naming the limit), the Redis result cache (X-Cache, org isolation, TTLs),
and backend faults (down → 503 naming the datasource, timeout → 504, the backend's 400 → 400)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.test import Client

from metrics_app import federation, guards
from metrics_app.models import Datasource
from portal.errors import ServiceError
from portal.tenancy import services
from portal.tenancy.models import Organization
from tests import procs
from tests.metrics.conftest import REDIS_URL

pytestmark = [pytest.mark.django_db, pytest.mark.backends]

BASE = "/prometheus/api/v1"


def client_for(org: Organization, user: Any) -> Client:
    _, secret = services.create_api_token(org, user, "g", "read")
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


@pytest.fixture
def acme(org_a: Organization, alice: Any) -> Client:
    return client_for(org_a, alice)


@pytest.fixture
def globex(org_b: Organization, charlie: Any) -> Client:
    return client_for(org_b, charlie)


def err(resp: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(resp.content)
    assert data["status"] == "error"
    return data


# ---------------------------------------------------------------- guards


def test_max_points_is_prometheus_11000(acme: Any, prom_env: Any) -> None:
    resp = acme.get(f"{BASE}/query_range", {"query": "up", "start": 0, "end": 11000, "step": 1})
    assert resp.status_code == 422
    e = err(resp)
    assert "11000" in e["error"] and "max_points" in e["error"]
    assert e["details"] == {"limit": "max_points", "value": 11000, "requested": 11001}
    assert acme.get(f"{BASE}/query_range", {"query": "up", "start": 0, "end": 10999, "step": 1}).status_code == 200


def test_max_range(acme: Any, prom_env: Any, settings: Any) -> None:
    settings.METRICS_MAX_RANGE_SECONDS = 3600
    resp = acme.get(f"{BASE}/query_range", {"query": "up", "start": 0, "end": 7200, "step": 60})
    assert resp.status_code == 422
    assert err(resp)["details"]["limit"] == "max_range_seconds" and "3600" in err(resp)["error"]
    resp = acme.get(f"{BASE}/series", {"match[]": "up", "start": 0, "end": 7200})
    assert resp.status_code == 422


def test_min_step(acme: Any, prom_env: Any, settings: Any) -> None:
    settings.METRICS_MIN_STEP_SECONDS = 10
    resp = acme.get(f"{BASE}/query_range", {"query": "up", "start": 0, "end": 600, "step": "5s"})
    assert resp.status_code == 422
    assert err(resp)["details"] == {"limit": "min_step_seconds", "value": 10, "requested": 5.0}


def test_max_series(acme: Any, prom_env: Any, settings: Any) -> None:
    settings.METRICS_MAX_SERIES = 3
    resp = acme.get(f"{BASE}/query", {"query": '{__name__=~".+"}'})
    assert resp.status_code == 422
    assert err(resp)["details"]["limit"] == "max_series" and "3" in err(resp)["error"]
    assert acme.get(f"{BASE}/series", {"match[]": '{__name__=~".+"}'}).status_code == 422
    assert acme.get(f"{BASE}/query", {"query": "up"}).status_code == 200


def test_query_timeout_is_passed_to_the_backend(acme: Any, prom_env: Any, settings: Any) -> None:
    # A 1 ms budget cannot evaluate a 10-minute subquery at 10ms resolution: the real Prometheus gives up
    # with its own timeout error, which proves it got the `timeout` parameter, and we answer 504.
    settings.METRICS_QUERY_TIMEOUT_SECONDS = 0.001
    resp = acme.get(f"{BASE}/query", {"query": 'count(max_over_time({__name__=~".+"}[10m:10ms]))'})
    assert resp.status_code == 504, resp.content
    assert err(resp)["errorType"] == "timeout"


def test_caller_timeout_is_capped(settings: Any) -> None:
    settings.METRICS_QUERY_TIMEOUT_SECONDS = 10
    limits = guards.Limits.current()
    assert guards.query_timeout("1m", limits) == 10
    assert guards.query_timeout("2s", limits) == 2
    assert guards.query_timeout(None, limits) == 10


def test_concurrent_queries_per_org(acme: Any, globex: Any, prom_env: Any, settings: Any,
                                    org_a: Organization) -> None:
    settings.METRICS_MAX_CONCURRENT_PER_ORG = 1
    limits = guards.Limits.current()
    with guards.concurrency_slot(org_a, limits):  # one acme query in flight
        resp = acme.get(f"{BASE}/query", {"query": "up", "time": 1})
        assert resp.status_code == 422
        assert err(resp)["details"]["limit"] == "max_concurrent_queries"
        assert resp["Retry-After"] == "1"
        assert globex.get(f"{BASE}/query", {"query": "up", "time": 1}).status_code == 200  # others unaffected
    assert acme.get(f"{BASE}/query", {"query": "up", "time": 1}).status_code == 200


@pytest.mark.parametrize(("params", "param"), [
    ({"query": "up", "start": "abc", "end": 60, "step": 15}, "start"),
    ({"query": "up", "start": 0, "end": 60, "step": 0}, "step"),
    ({"query": "up", "start": 0, "end": 60, "step": "-5s"}, "step"),
    ({"query": "up", "start": 100, "end": 60, "step": 15}, "end"),
    ({"query": "up", "start": 0, "end": 60}, "step"),
    ({"query": "", "start": 0, "end": 60, "step": 15}, "query"),
])
def test_bad_parameters_are_400(acme: Any, prom_env: Any, params: dict[str, Any], param: str) -> None:
    resp = acme.get(f"{BASE}/query_range", params)
    assert resp.status_code == 400
    assert param in err(resp)["error"]


def test_rfc3339_times(acme: Any, prom_env: Any) -> None:
    resp = acme.get(f"{BASE}/query_range", {"query": "up", "start": "2026-01-01T00:00:00Z",
                                            "end": "2026-01-01T01:00:00Z", "step": "1m"})
    assert resp.status_code == 200


# ---------------------------------------------------------------- cache


def test_cache_miss_then_hit(acme: Any, prom_env: Any) -> None:
    params: dict[str, Any] = {"query": "sum(up)", "start": 1000, "end": 2000, "step": 15}
    assert acme.get(f"{BASE}/query_range", params)["X-Cache"] == "miss"
    assert acme.get(f"{BASE}/query_range", params)["X-Cache"] == "hit"
    # Step alignment: a slightly different start inside the same step shares the entry.
    assert acme.get(f"{BASE}/query_range", {**params, "start": 1003.7})["X-Cache"] == "hit"
    # Whitespace and form do not matter: the key is the normalized, enforced query.
    assert acme.post(f"{BASE}/query_range", {**params, "query": "sum( up )"})["X-Cache"] == "hit"


def test_an_org_never_gets_another_orgs_entry(acme: Any, globex: Any, prom_env: Any) -> None:
    now = time.time()
    params: dict[str, Any] = {"query": "sum(org_secret_info)", "time": now - 5}
    a1 = acme.get(f"{BASE}/query", params)
    a2 = acme.get(f"{BASE}/query", params)
    g1 = globex.get(f"{BASE}/query", params)
    assert (a1["X-Cache"], a2["X-Cache"], g1["X-Cache"]) == ("miss", "hit", "miss")
    assert json.loads(a2.content)["data"]["result"][0]["value"][1] == "1"
    assert json.loads(g1.content)["data"]["result"][0]["value"][1] == "1000"


def test_cache_keys_include_the_org(org_a: Organization, org_b: Organization) -> None:
    from metrics_app import cache as result_cache

    ka = result_cache.key(org_a, "ds", "query", {"query": "up"})
    kb = result_cache.key(org_b, "ds", "query", {"query": "up"})
    assert ka != kb and f":{org_a.pk}:" in ka and f":{org_b.pk}:" in kb


def _ttl_of(endpoint: str) -> int:
    r = redis.Redis.from_url(REDIS_URL)
    keys = r.keys(f"*metrics:v1:*:{endpoint}:*")
    assert len(keys) == 1, keys
    return int(r.ttl(keys[0]))


def test_moving_last_step_is_cached_briefly(acme: Any, prom_env: Any, settings: Any) -> None:
    settings.METRICS_CACHE_TTL_SECONDS = 300
    settings.METRICS_CACHE_RECENT_TTL_SECONDS = 5
    now = time.time()
    acme.get(f"{BASE}/query_range", {"query": "up", "start": now - 300, "end": now, "step": 15})
    assert 0 < _ttl_of("query_range") <= 5


def test_past_windows_are_cached_long(acme: Any, prom_env: Any, settings: Any) -> None:
    settings.METRICS_CACHE_TTL_SECONDS = 300
    now = time.time()
    acme.get(f"{BASE}/query_range", {"query": "up", "start": now - 7200, "end": now - 3600, "step": 15})
    assert 250 < _ttl_of("query_range") <= 300


def test_redis_down_degrades_to_miss(acme: Any, prom_env: Any, settings: Any) -> None:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": f"redis://127.0.0.1:{procs.free_port()}/0"}}
    settings.METRICS_MAX_CONCURRENT_PER_ORG = 100
    resp = acme.get(f"{BASE}/query", {"query": "up"})
    assert resp.status_code == 200 and resp["X-Cache"] == "miss"


# ---------------------------------------------------------------- backend faults


def test_backend_down_is_503_naming_the_datasource(acme: Any, db: Any) -> None:
    Datasource.objects.create(name="prom-main", url=f"http://127.0.0.1:{procs.free_port()}", is_default=True)
    resp = acme.get(f"{BASE}/query", {"query": "up"})
    assert resp.status_code == 503
    assert err(resp)["errorType"] == "unavailable" and "prom-main" in err(resp)["error"]
    assert err(resp)["code"] == "backend_unavailable"


def test_backend_down_service_error(org_a: Organization, db: Any) -> None:
    Datasource.objects.create(name="prom-main", url=f"http://127.0.0.1:{procs.free_port()}", is_default=True)
    with pytest.raises(ServiceError) as e:
        federation.query(org_a, "up")
    assert e.value.status_code == 503 and e.value.details["datasource"] == "prom-main"


@pytest.fixture
def silent_backend() -> Iterator[str]:
    """A real TCP server that accepts connections and never answers."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    conns: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conns.append(srv.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.getsockname()[1]}"
    stop.set()
    t.join(2)
    for c in conns:
        c.close()
    srv.close()


def test_backend_timeout_is_504(acme: Any, silent_backend: str) -> None:
    Datasource.objects.create(name="slow-prom", url=silent_backend, timeout_seconds=0.3, is_default=True)
    started = time.monotonic()
    resp = acme.get(f"{BASE}/query", {"query": "up"})
    assert resp.status_code == 504
    assert err(resp)["errorType"] == "timeout" and "slow-prom" in err(resp)["error"]
    assert time.monotonic() - started < 10


def test_backends_own_bad_promql_is_400_with_its_message(acme: Any, prom_env: Any) -> None:
    # mad_over_time parses here (promql-parser follows newer Prometheus) but Prometheus 2.42 rejects it.
    resp = acme.get(f"{BASE}/query", {"query": "mad_over_time(up[5m])"})
    assert resp.status_code == 400
    assert "mad_over_time" in err(resp)["error"]


def test_backends_execution_error_is_400_with_its_message(acme: Any, prom_env: Any) -> None:
    resp = acme.get(f"{BASE}/query", {"query": "http_requests_total + on(job) http_requests_total"})
    assert resp.status_code == 400
    assert "many-to-many" in err(resp)["error"]


def test_no_cache_request_bypasses_the_cache(acme: Any, prom_env: Any) -> None:
    params = {"query": "up", "time": 1000}
    assert acme.get(f"{BASE}/query", params)["X-Cache"] == "miss"
    assert acme.get(f"{BASE}/query", params, HTTP_CACHE_CONTROL="no-cache")["X-Cache"] == "bypass"
    assert acme.get(f"{BASE}/query", params)["X-Cache"] == "hit"
