"""Query guards: time and step parameters (portal/core/params.py), and the configurable limits.

Limits come from settings (METRICS_*); exceeding one raises a 422 ServiceError naming the limit and its
value; a malformed parameter raises a 400.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from portal.core import cache, params
from portal.errors import ServiceError
from portal.tenancy.models import Organization

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    max_range_seconds: int
    max_points: int
    min_step_seconds: float
    timeout_seconds: float
    max_series: int
    max_concurrent: int

    @classmethod
    def current(cls) -> Limits:
        return cls(
            max_range_seconds=settings.METRICS_MAX_RANGE_SECONDS,
            max_points=settings.METRICS_MAX_POINTS,
            min_step_seconds=settings.METRICS_MIN_STEP_SECONDS,
            timeout_seconds=settings.METRICS_QUERY_TIMEOUT_SECONDS,
            max_series=settings.METRICS_MAX_SERIES,
            max_concurrent=settings.METRICS_MAX_CONCURRENT_PER_ORG,
        )


def bad_param(name: str, message: str, code: str = "invalid_param") -> ServiceError:
    """400 naming the parameter; `code` is the specific one (invalid_time, invalid_duration, …) when known."""
    return ServiceError(400, code, f"invalid parameter {name!r}: {message}", {"param": name})


def limit_exceeded(limit: str, value: float | int, requested: float | int, message: str) -> ServiceError:
    return ServiceError(422, "limit_exceeded", message,
                        {"limit": limit, "value": value, "requested": requested})


def parse_time(name: str, raw: Any) -> float:
    """Unix seconds or RFC 3339, as Prometheus accepts them (and `now-1h`, as the portal's other APIs do)."""
    return params.parse_time(raw, name).timestamp()


def parse_duration(name: str, raw: Any) -> float:
    """Seconds (float) or a Prometheus duration like `15s`, `1m30s`; positive."""
    return params.parse_duration(raw, name).total_seconds()


def check_range(start: float, end: float, step: float, limits: Limits) -> None:
    if end < start:
        raise bad_param("end", "end timestamp must not be before start time", code="invalid_range")
    if end - start > limits.max_range_seconds:
        raise limit_exceeded("max_range_seconds", limits.max_range_seconds, end - start,
                             f"query range {end - start:g}s exceeds the maximum range of "
                             f"{limits.max_range_seconds}s (max_range_seconds)")
    if step < limits.min_step_seconds:
        raise limit_exceeded("min_step_seconds", limits.min_step_seconds, step,
                             f"step {step:g}s is below the minimum step of {limits.min_step_seconds:g}s "
                             "(min_step_seconds)")
    points = math.floor((end - start) / step) + 1
    if points > limits.max_points:
        raise limit_exceeded("max_points", limits.max_points, points,
                             f"exceeded maximum resolution of {limits.max_points} points per timeseries "
                             f"(max_points): {points} requested. Try decreasing the query resolution "
                             "(?step=XX)")


def check_window(start: float | None, end: float | None, limits: Limits) -> None:
    """series/labels: an explicit window is subject to the same maximum range."""
    if start is not None and end is not None:
        if end < start:
            raise bad_param("end", "end timestamp must not be before start time", code="invalid_range")
        if end - start > limits.max_range_seconds:
            raise limit_exceeded("max_range_seconds", limits.max_range_seconds, end - start,
                                 f"time window {end - start:g}s exceeds the maximum range of "
                                 f"{limits.max_range_seconds}s (max_range_seconds)")


def check_series(count: int, limits: Limits) -> None:
    if count > limits.max_series:
        raise limit_exceeded("max_series", limits.max_series, count,
                             f"the query returned {count} series, more than the maximum of "
                             f"{limits.max_series} (max_series); narrow it with label matchers")


def query_timeout(requested: Any, limits: Limits) -> float:
    """The timeout passed to the backend: the caller's, capped at the configured one."""
    if requested in (None, ""):
        return limits.timeout_seconds
    return min(parse_duration("timeout", requested), limits.timeout_seconds)


@contextmanager
def concurrency_slot(org: Organization | None, limits: Limits) -> Iterator[None]:
    """At most `max_concurrent` queries in flight per org, counted in the shared cache (Redis), so
    the limit holds across web processes (per process while Redis is down). The key expires in case a
    process dies mid-query."""
    key = f"metrics:inflight:{org.pk if org else 'all'}"
    current = cache.incr(key, 1, int(limits.timeout_seconds) + 30)
    try:
        if current > limits.max_concurrent:
            raise ServiceError(
                422, "limit_exceeded",
                f"too many concurrent queries for this organization: the limit is {limits.max_concurrent} "
                "(max_concurrent_queries)",
                {"limit": "max_concurrent_queries", "value": limits.max_concurrent, "requested": current},
                headers={"Retry-After": "1"},
            )
        yield
    finally:
        cache.decr(key)
