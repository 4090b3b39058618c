"""Performance analysis from spans: per service and endpoint latency percentiles, throughput and error
rate over a window; the slowest endpoints; one endpoint's latency histogram; the service map.

An *endpoint request* is an entry span: kind server or consumer, or a root span (no parent). Its
endpoint is `http.route` when the span has one, else the span name (OTel names server spans
"GET /route"). Spans come from the store, scoped to the org like every other read.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from logs_app.store.records import SpanRecord
from portal.core import params
from portal.tenancy.models import Organization

# When the store cannot stream spans, traces are read one by one: at most this many per request.
MAX_WINDOW = timedelta(days=31)
HISTOGRAM_BOUNDS_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000)


Window = params.TimeRange


def window_from(query: Mapping[str, str]) -> Window:
    """`start`/`end` or `since` (15m, 1h, 7d) before `end`; default the last hour, at most MAX_WINDOW."""
    # Every bad window answers "invalid", the code this endpoint has always given.
    return params.time_range(query.get("start"), query.get("end"), since=query.get("since"),
                             max_span=MAX_WINDOW, code="invalid")


def iter_spans(org: Organization, window: Window, query: str = "") -> tuple[Iterator[SpanRecord], bool]:
    """The org's spans starting in the window (streamed from the store), and whether they are complete."""
    from logs_app.store import get_store

    return get_store().iter_spans(org, query, window.start, window.end), True


def is_entry(span: SpanRecord) -> bool:
    return span.kind in ("server", "consumer") or not span.parent_span_id


def endpoint_of(span: SpanRecord) -> str:
    route = span.attributes.get("http.route")
    if isinstance(route, str) and route:
        method = span.attributes.get("http.request.method") or span.attributes.get("http.method")
        return f"{method} {route}" if isinstance(method, str) and method else route
    return span.name


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(q / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass
class EndpointStats:
    service: str
    endpoint: str
    durations: list[float] = field(default_factory=list)
    errors: int = 0

    def as_dict(self, seconds: float) -> dict[str, Any]:
        d = sorted(self.durations)
        n = len(d)
        return {
            "service": self.service, "endpoint": self.endpoint, "count": n,
            "throughput_rps": round(n / seconds, 6), "errors": self.errors,
            "error_rate": round(self.errors / n, 4) if n else 0.0,
            "p50_ms": round(percentile(d, 50), 3), "p95_ms": round(percentile(d, 95), 3),
            "p99_ms": round(percentile(d, 99), 3), "max_ms": round(d[-1], 3) if d else 0.0,
        }


@dataclass
class Report:
    window: Window
    endpoints: list[dict[str, Any]]
    complete: bool

    def as_dict(self, slowest: int = 10) -> dict[str, Any]:
        by_p95 = sorted(self.endpoints, key=lambda e: (-e["p95_ms"], e["service"], e["endpoint"]))
        return {
            "start": self.window.start.isoformat(), "end": self.window.end.isoformat(),
            "complete": self.complete, "endpoints": self.endpoints, "slowest": by_p95[:slowest],
        }


def analyse(org: Organization, window: Window, service: str = "") -> Report:
    spans, complete = iter_spans(org, window, f'service="{_quote(service)}"' if service else "")
    stats: dict[tuple[str, str], EndpointStats] = {}
    for span in spans:
        if not is_entry(span) or (service and span.service != service):
            continue
        key = (span.service, endpoint_of(span))
        st = stats.get(key)
        if st is None:
            st = stats[key] = EndpointStats(*key)
        st.durations.append(span.duration_ms)
        if span.status == "error":
            st.errors += 1
    rows = [s.as_dict(window.seconds) for s in stats.values()]
    rows.sort(key=lambda r: (r["service"], r["endpoint"]))
    return Report(window, rows, complete)


def latency_histogram(org: Organization, window: Window, service: str, endpoint: str) -> dict[str, Any]:
    spans, complete = iter_spans(org, window, f'service="{_quote(service)}"')
    counts = [0] * (len(HISTOGRAM_BOUNDS_MS) + 1)
    durations: list[float] = []
    for span in spans:
        if span.service != service or not is_entry(span) or endpoint_of(span) != endpoint:
            continue
        ms = span.duration_ms
        durations.append(ms)
        i = next((i for i, b in enumerate(HISTOGRAM_BOUNDS_MS) if ms <= b), len(HISTOGRAM_BOUNDS_MS))
        counts[i] += 1
    durations.sort()
    buckets = [{"le_ms": b, "count": c} for b, c in zip((*HISTOGRAM_BOUNDS_MS, None), counts, strict=True)]
    return {"service": service, "endpoint": endpoint, "count": len(durations), "complete": complete,
            "p50_ms": percentile(durations, 50), "p95_ms": percentile(durations, 95),
            "p99_ms": percentile(durations, 99), "buckets": buckets}


def service_map(org: Organization, window: Window) -> dict[str, Any]:
    """Nodes are services; an edge parent→child counts spans whose parent ran in another service."""
    spans, complete = iter_spans(org, window)
    owner: dict[tuple[str, str], str] = {}
    links: list[tuple[str, str, str, float, bool]] = []  # (trace, parent span, child service, ms, error)
    nodes: dict[str, dict[str, Any]] = defaultdict(lambda: {"spans": 0, "errors": 0})
    for span in spans:
        owner[(span.trace_id, span.span_id)] = span.service
        node = nodes[span.service]
        node["spans"] += 1
        node["errors"] += span.status == "error"
        if span.parent_span_id:
            links.append((span.trace_id, span.parent_span_id, span.service, span.duration_ms,
                          span.status == "error"))
    edges: dict[tuple[str, str], dict[str, Any]] = {}
    for trace_id, parent_id, child_service, ms, err in links:
        parent_service = owner.get((trace_id, parent_id))
        if parent_service is None or parent_service == child_service:
            continue
        e = edges.setdefault((parent_service, child_service), {"calls": 0, "errors": 0, "total_ms": 0.0})
        e["calls"] += 1
        e["errors"] += err
        e["total_ms"] += ms
    return {
        "complete": complete,
        "nodes": [{"service": s, **v} for s, v in sorted(nodes.items())],
        "edges": [{"source": a, "target": b, "calls": e["calls"], "errors": e["errors"],
                   "avg_ms": round(e["total_ms"] / e["calls"], 3)} for (a, b), e in sorted(edges.items())],
    }


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
