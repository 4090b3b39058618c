"""Per-org ingest limits: defaults from settings, overrides per org in `IngestLimits` (staff-set).

Rate (samples per second) and active series are counted in the shared cache's Redis when there is one, so
every web worker sees the same totals; without Redis (embedded setup, one process), or while it is down,
they are counted in process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from django.conf import settings

from portal.core import cache
from portal.tenancy.models import Organization

LIMITS_CACHE_SECONDS = 10


@dataclass(frozen=True)
class OrgLimits:
    samples_per_second: int
    max_active_series: int
    max_labels_per_series: int
    max_label_name_length: int
    max_label_value_length: int

    @classmethod
    def defaults(cls) -> OrgLimits:
        return cls(
            samples_per_second=settings.METRICS_IN_SAMPLES_PER_SECOND,
            max_active_series=settings.METRICS_IN_MAX_ACTIVE_SERIES,
            max_labels_per_series=settings.METRICS_IN_MAX_LABELS_PER_SERIES,
            max_label_name_length=settings.METRICS_IN_MAX_LABEL_NAME_LENGTH,
            max_label_value_length=settings.METRICS_IN_MAX_LABEL_VALUE_LENGTH,
        )


LIMIT_FIELDS = [f.name for f in fields(OrgLimits)]


def _cache_key(org_id: int) -> str:
    return f"metrics_in:limits:{org_id}"


def limits_for(org: Organization) -> OrgLimits:
    key = _cache_key(org.pk)
    found = cache.get(key)
    if isinstance(found, OrgLimits):
        return found
    from metrics_in_app.models import IngestLimits

    values: dict[str, Any] = dict(OrgLimits.defaults().__dict__)
    row = IngestLimits.objects.for_org(org).first()
    if row is not None:
        values.update({k: getattr(row, k) for k in LIMIT_FIELDS if getattr(row, k) is not None})
    limits = OrgLimits(**values)
    cache.set(key, limits, LIMITS_CACHE_SECONDS)
    return limits


def forget(org: Organization) -> None:
    cache.delete(_cache_key(org.pk))


class Counters:
    """Sliding counts behind the rate and active-series limits (Redis, or in process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rate: dict[int, tuple[int, int]] = {}
        self._series: dict[int, tuple[int, set[bytes]]] = {}

    def take_rate(self, org_id: int, n: int, limit: int) -> bool:
        """Count n samples in this second's window; False when the window was already at the limit.

        A request is admitted while the window is under the limit, so one large request is never refused
        forever; the next ones wait for the next second.
        """
        second = int(time.time())
        r = cache.redis_client()
        if r is not None:
            key = f"metrics_in:rate:{org_id}:{second}"

            def shared() -> bool:
                pipe = r.pipeline()
                pipe.incrby(key, n)
                pipe.expire(key, 3)
                total = int(pipe.execute()[0])
                return total - n < limit

            return cache.shared("incr", shared, lambda: self._take_rate_here(org_id, second, n, limit))
        return self._take_rate_here(org_id, second, n, limit)

    def _take_rate_here(self, org_id: int, second: int, n: int, limit: int) -> bool:
        with self._lock:
            window, count = self._rate.get(org_id, (second, 0))
            if window != second:
                count = 0
            if count >= limit:
                return False
            self._rate[org_id] = (second, count + n)
            return True

    def admit_series(self, org_id: int, fps: Sequence[bytes], limit: int) -> set[bytes]:
        """Series over the active-series limit (to refuse). Active = seen in the current window."""
        window = int(time.time()) // settings.METRICS_IN_ACTIVE_WINDOW_SECONDS
        unique = list(dict.fromkeys(fps))
        if not unique:
            return set()
        r = cache.redis_client()
        if r is not None:
            key = f"metrics_in:series:{org_id}:{window}"

            def shared() -> set[bytes]:
                pipe = r.pipeline()
                pipe.scard(key)
                pipe.smismember(key, unique)
                count, known = pipe.execute()
                new = [fp for fp, k in zip(unique, known, strict=True) if not k]
                room = max(0, limit - int(count))
                admitted, refused = new[:room], set(new[room:])
                if admitted:
                    pipe = r.pipeline()
                    pipe.sadd(key, *admitted)
                    pipe.expire(key, 2 * settings.METRICS_IN_ACTIVE_WINDOW_SECONDS)
                    pipe.execute()
                return refused

            return cache.shared("series", shared, lambda: self._admit_series_here(org_id, window, unique, limit))
        return self._admit_series_here(org_id, window, unique, limit)

    def _admit_series_here(self, org_id: int, window: int, unique: list[bytes], limit: int) -> set[bytes]:
        with self._lock:
            w, seen = self._series.get(org_id, (window, set()))
            if w != window:
                seen = set()
            new = [fp for fp in unique if fp not in seen]
            room = max(0, limit - len(seen))
            seen.update(new[:room])
            self._series[org_id] = (window, seen)
            return set(new[room:])

    def reset(self) -> None:
        with self._lock:
            self._rate.clear()
            self._series.clear()


COUNTERS = Counters()
