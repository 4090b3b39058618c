"""Liveness, readiness and the portal's own metrics."""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from portal.backends import readiness
from portal.core import metrics


def healthz(request: HttpRequest) -> HttpResponse:
    """The process answers; nothing else is touched."""
    return JsonResponse({"status": "ok"})


def _database() -> None:
    with connection.cursor() as cur:
        cur.execute("SELECT 1")


def _redis() -> None:
    import redis

    redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2).ping()


def readyz(request: HttpRequest) -> JsonResponse:
    """One entry per component; 503 when a required one is down. Optional backends only report."""
    checks: list[tuple[str, bool, Callable[[], Any]]] = [("database", True, _database)]
    if settings.REDIS_URL:
        checks.append(("redis", True, _redis))
    checks.extend(readiness.backend_checks())
    components: dict[str, dict[str, Any]] = {}
    ok = True
    for name, required, probe in checks:
        start = time.perf_counter()
        try:
            probe()
            components[name] = {"status": "up", "required": required}
        except Exception as e:  # noqa: BLE001 - any failure of a probe is "down", with its reason
            components[name] = {"status": "down", "required": required, "error": str(e)[:300]}
            ok = ok and not required
        components[name]["latency_ms"] = round((time.perf_counter() - start) * 1000, 1)
    if not settings.REDIS_URL:
        components["redis"] = {"status": "not configured", "required": False}
    return JsonResponse({"status": "ready" if ok else "not ready", "components": components},
                        status=200 if ok else 503)


def metrics_view(request: HttpRequest) -> HttpResponse:
    """Open unless METRICS_TOKEN is set (the documented interface); it names no organization either way:
    per-org series carry the org's database id (portal/core/metrics.py)."""
    token = settings.METRICS_REQUIRE_TOKEN
    sent = request.META.get("HTTP_AUTHORIZATION", "")
    if token and not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        resp = HttpResponse("metrics need the configured METRICS_TOKEN\n", status=401, content_type="text/plain")
        resp["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return resp
    return HttpResponse(generate_latest(metrics.registry()), content_type=CONTENT_TYPE_LATEST)
