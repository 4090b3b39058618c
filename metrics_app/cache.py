"""Result cache for federated queries, in the Django cache (Redis when REDIS_URL is set).

Keys are a hash of (org id, org label value, datasource, endpoint, *enforced and normalized* query,
step-aligned range). The org is in the key and the query in the key already carries the org's matcher,
so two orgs can never share an entry even for the same text. Results whose window reaches the
still-moving present get a short TTL; fully past windows keep the long TTL.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings

from portal.core import cache
from portal.tenancy.models import Organization

_VERSION = "v1"


def key(org: Organization | None, datasource_id: str, endpoint: str, params: dict[str, Any]) -> str:
    org_part = f"{org.pk}:{org.label_value}" if org is not None else "ALL"
    raw = json.dumps([org_part, datasource_id, endpoint, params], sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(raw.encode()).hexdigest()
    # The org id stays readable in the key too (operators can flush one org's entries).
    return f"metrics:{_VERSION}:{org.pk if org is not None else 'all'}:{endpoint}:{digest}"


def ttl_for(end: float | None, step: float | None = None) -> int:
    """Short TTL if the window's end is within one step (or the recent window) of now."""
    recent = settings.METRICS_CACHE_RECENT_TTL_SECONDS
    if end is None:
        return recent
    moving_window = max(step or 0.0, 60.0)
    if end >= time.time() - moving_window:
        return recent
    return settings.METRICS_CACHE_TTL_SECONDS


def get_or_compute(cache_key: str, ttl: int, compute: Callable[[], Any]) -> tuple[Any, bool]:
    """(value, hit). A cache outage is a miss (portal.core.cache), never a failed query."""
    hit = cache.get(cache_key)
    if hit is not None:
        return hit, True
    value = compute()
    if ttl > 0:
        cache.set(cache_key, value, ttl)
    return value, False
