"""Every metrics read of this app goes through `metrics_app.federation`, which parses the PromQL, injects
the org matcher and caches results per org. This module adds what dashboards need on top: step alignment
(as Grafana does) and a short cache of a whole dashboard's answer (`cached`), keyed by org first.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from metrics_app import federation
from portal.core import cache
from portal.tenancy.audit import Actor
from portal.tenancy.models import Organization

# A dashboard's whole answer is cached for at most this long; a dashboard refreshing every 5 s still sees
# fresh data because the key contains the step-aligned end time.
CACHE_SECONDS = 30


def _key(org: Organization, kind: str, *parts: Any) -> str:
    digest = hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:32]
    return f"dash:q:{org.pk}:{kind}:{digest}"


def cached(org: Organization, kind: str, parts: tuple[Any, ...], ttl: int, fn: Any) -> Any:
    """`fn()`'s value, cached for `ttl` s under a key made of the org, `kind` and `parts`."""
    key = _key(org, kind, *parts)
    hit = cache.get(key)
    if hit is not None:
        return hit
    value = fn()
    cache.set(key, value, ttl)
    return value


def query_range(org: Organization, expr: str, start: float, end: float, step: int,
                cross_org: Any = None) -> dict[str, Any]:
    # Align to the step so consecutive loads share federation's cache entries and points line up;
    # the end rounds up so that the newest samples are always in the last point.
    start_a, end_a = (int(start) // step) * step, -(-int(end) // step) * step
    if end_a <= start_a:
        end_a = start_a + step
    return federation.query_range(org, expr, start_a, end_a, step, cross_org=cross_org)


def history(org: Organization, expr: str, end: float, seconds: int, step: int,
            cross_org: Any = None) -> dict[str, Any]:
    """A long, coarse range for forecasting (dashboards_app/forecast.py): `seconds` of history ending at
    the last step boundary at or before `end`, never in the future (a point evaluated ahead of the newest
    sample would only repeat it), aligned so that refreshes within one step share the cached answer."""
    end_a = (int(end) // step) * step
    return federation.query_range(org, expr, end_a - (seconds // step) * step, end_a, step, cross_org=cross_org)


def query_instant(org: Organization, expr: str, at: float, step: int = 5, cross_org: Any = None) -> dict[str, Any]:
    at_a = -(-int(at) // step) * step  # rounded up, like a range's end
    return federation.query(org, expr, time=at_a, cross_org=cross_org)


def cross_org_for(actor: Actor, reason: str) -> federation.CrossOrg:
    """Staff's explicit, audited platform-wide mode of federation."""
    return federation.CrossOrg(actor=actor, reason=reason)


def label_names(org: Organization, match: str | None, start: float, end: float) -> list[str]:
    return list(federation.labels(org, [match] if match else None, start, end))


def label_values(org: Organization, name: str, match: str | None, start: float, end: float,
                 cross_org: Any = None) -> list[str]:
    return list(federation.label_values(org, name, [match] if match else None, start, end, cross_org=cross_org))
