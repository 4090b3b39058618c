"""Every metrics read of this app goes through `metrics_app.federation`, which parses the PromQL and
injects the org matcher. This module adds what dashboards need on top: step alignment and a short
per-org result cache (the cache key starts with the org id, so one org can never read another's).
"""

from __future__ import annotations

import hashlib
import importlib
import json
from types import ModuleType
from typing import Any

from django.core.cache import cache

from portal.errors import ServiceError
from portal.tenancy.models import Organization

# Panel results are cached for at most this long; a dashboard refreshing every 5 s still sees fresh data
# because the key contains the step-aligned end time.
CACHE_SECONDS = 30


def federation() -> ModuleType:
    try:
        return importlib.import_module("metrics_app.federation")
    except ImportError:  # the metrics federation layer is a separate app; say so instead of a 500
        raise ServiceError(503, "federation_unavailable",
                           "Metrics federation (metrics_app.federation) is not available.") from None


def _key(org: Organization, kind: str, *parts: Any) -> str:
    digest = hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:32]
    return f"dash:q:{org.pk}:{kind}:{digest}"


def cached(org: Organization, kind: str, parts: tuple[Any, ...], ttl: int, fn: Any) -> Any:
    """`fn()`'s value, cached for `ttl` s under a key made of the org, `kind` and `parts`."""
    return _cached(org, kind, parts, ttl, fn)


def _cached(org: Organization, kind: str, parts: tuple[Any, ...], ttl: int, fn: Any) -> Any:
    key = _key(org, kind, *parts)
    hit = cache.get(key)
    if hit is not None:
        return hit
    value = fn()
    cache.set(key, value, ttl)
    return value


def _scope(cross_org: Any) -> str:
    # Staff's platform-wide results never share a cache entry with an org's own.
    return "platform" if cross_org is not None else "org"


def query_range(org: Organization, expr: str, start: float, end: float, step: int,
                cross_org: Any = None) -> dict[str, Any]:
    # Align to the step so consecutive loads share cache entries and points line up (as Grafana does);
    # the end rounds up so that the newest samples are always in the last point.
    start_a, end_a = (int(start) // step) * step, -(-int(end) // step) * step
    if end_a <= start_a:
        end_a = start_a + step
    ttl = max(1, min(CACHE_SECONDS, step))
    return _cached(org, "range", (_scope(cross_org), expr, start_a, end_a, step), ttl,  # type: ignore[no-any-return]
                   lambda: federation().query_range(org, expr, start_a, end_a, step, cross_org=cross_org))


def query_instant(org: Organization, expr: str, at: float, step: int = 5, cross_org: Any = None) -> dict[str, Any]:
    at_a = -(-int(at) // step) * step  # rounded up, like a range's end
    return _cached(org, "instant", (_scope(cross_org), expr, at_a), max(1, min(CACHE_SECONDS, step)),  # type: ignore[no-any-return]
                   lambda: federation().query(org, expr, time=at_a, cross_org=cross_org))


def cross_org_for(user: Any, request: Any, reason: str) -> Any:
    """Staff's explicit, audited platform-wide mode of federation."""
    return federation().CrossOrg(user=user, reason=reason, request=request)


def label_names(org: Organization, match: str | None, start: float, end: float) -> list[str]:
    matches = [match] if match else None
    return _cached(org, "labels", (match, int(start) // 60, int(end) // 60), 30,  # type: ignore[no-any-return]
                   lambda: list(federation().labels(org, matches, start, end)))


def label_values(org: Organization, name: str, match: str | None, start: float, end: float,
                 cross_org: Any = None) -> list[str]:
    matches = [match] if match else None
    return _cached(org, "values", (_scope(cross_org), name, match, int(start) // 60, int(end) // 60),  # type: ignore[no-any-return]
                   30, lambda: list(federation().label_values(org, name, matches, start, end, cross_org=cross_org)))
