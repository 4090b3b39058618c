"""The performance API (per service and endpoint latency, one endpoint's histogram, the service map), computed
by the store's engine through its service aggregates (logs_app/store/service_stats.py): no span is read
into Python. The service pages (logs_app/service_page.py) are built on the same aggregates.

An *endpoint request* is an entry span: kind server or consumer, or a root span (no parent). Its endpoint
is `METHOD http.route` when the span has a route, else the span name (OTel names server spans "GET /route").
Percentiles interpolate between the two nearest ranks, the same on every store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from logs_app.store.service_stats import ServiceStats, UnsupportedStore
from portal.core import params
from portal.errors import ServiceError
from portal.tenancy.models import Organization

MAX_WINDOW = timedelta(days=31)
HISTOGRAM_BOUNDS_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000)

Window = params.TimeRange


def window_from(query: Mapping[str, str]) -> Window:
    """`start`/`end` or `since` (15m, 1h, 7d) before `end`; default the last hour, at most MAX_WINDOW."""
    # Every bad window answers "invalid", the code this endpoint has always given.
    return params.time_range(query.get("start"), query.get("end"), since=query.get("since"),
                             max_span=MAX_WINDOW, code="invalid")


def stats() -> ServiceStats:
    from logs_app.store import get_store

    try:
        return get_store().service_stats()
    except UnsupportedStore as e:
        raise ServiceError(503, "backend_not_configured", str(e), {"backend": "logs-store"}) from e


@dataclass
class Report:
    window: Window
    endpoints: list[dict[str, Any]]
    complete: bool = True  # always: the engine aggregates every span of the window

    def as_dict(self, slowest: int = 10) -> dict[str, Any]:
        by_p95 = sorted(self.endpoints, key=lambda e: (-e["p95_ms"], e["service"], e["endpoint"]))
        return {
            "start": self.window.start.isoformat(), "end": self.window.end.isoformat(),
            "complete": self.complete, "endpoints": self.endpoints, "slowest": by_p95[:slowest],
        }


def analyse(org: Organization, window: Window, service: str = "") -> Report:
    rows = stats().endpoints(org, window.start, window.end, service=service or None)
    seconds = window.seconds
    out = []
    for svc, endpoint, lat in sorted(rows, key=lambda r: (r[0], r[1])):
        out.append({
            "service": svc, "endpoint": endpoint, "count": lat.count,
            "throughput_rps": round(lat.count / seconds, 6) if seconds else 0.0, "errors": lat.errors,
            "error_rate": round(lat.error_share, 4), "p50_ms": round(lat.p50_ms, 3),
            "p95_ms": round(lat.p95_ms, 3), "p99_ms": round(lat.p99_ms, 3), "max_ms": round(lat.max_ms, 3),
        })
    return Report(window, out)


def latency_histogram(org: Organization, window: Window, service: str, endpoint: str) -> dict[str, Any]:
    st = stats()
    counts = st.endpoint_histogram(org, service, endpoint, window.start, window.end, HISTOGRAM_BOUNDS_MS)
    rows = st.endpoints(org, window.start, window.end, service=service, endpoint=endpoint)
    lat = rows[0][2] if rows else None
    buckets = [{"le_ms": b, "count": c} for b, c in zip((*HISTOGRAM_BOUNDS_MS, None), counts, strict=True)]
    return {"service": service, "endpoint": endpoint, "count": sum(counts), "complete": True,
            "p50_ms": lat.p50_ms if lat else 0.0, "p95_ms": lat.p95_ms if lat else 0.0,
            "p99_ms": lat.p99_ms if lat else 0.0, "buckets": buckets}


def service_map(org: Organization, window: Window) -> dict[str, Any]:
    """Nodes are services; an edge parent→child counts spans whose parent ran in another service."""
    nodes, edges = stats().service_map(org, window.start, window.end)
    return {
        "complete": True,
        "nodes": [{"service": s, "spans": n, "errors": e} for s, n, e in nodes],
        "edges": [{"source": a, "target": b, "calls": n, "errors": e, "avg_ms": round(avg, 3)}
                  for a, b, n, e, avg in edges],
    }
