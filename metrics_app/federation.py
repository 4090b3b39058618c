"""Query the metrics backend *as an organization*: the one code path for the Prometheus-compatible API,
dashboards, Explore and alert previews.

Every function: enforce the org on the PromQL / `match[]` (metrics_app.promql), apply the guards
(metrics_app.guards), look in the cache (metrics_app.cache), call the backend through the one client
(portal.backends.prometheus) and translate its failures into ServiceError:

    400 bad PromQL (details.position), foreign org matcher (details.matcher), bad parameter,
        the backend's own 400 with its message
    422 a limit exceeded (details.limit / details.value)
    502 backend down or broken, naming the datasource;  503 no datasource configured
    504 backend timeout

The public functions return Prometheus's `data` member; `run_*` variants also say whether the cache hit.
Staff may query across orgs only by passing `cross_org=CrossOrg(actor, reason)`, which is audited.
"""

from __future__ import annotations

import math
import time as _time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from portal import crypto
from portal.backends.errors import BackendError, BackendTimeout, BackendUnavailable
from portal.backends.prometheus import PrometheusClient, client_for, is_bad_query
from portal.error_codes import BACKEND_PROMETHEUS
from portal.errors import ServiceError
from portal.tenancy import audit
from portal.tenancy.audit import Actor
from portal.tenancy.models import Organization

from . import cache as result_cache
from . import guards, platform_series, promql
from .labels import org_label
from .models import Datasource

__all__ = [
    "CrossOrg",
    "Result",
    "label_values",
    "labels",
    "metadata",
    "query",
    "query_range",
    "run_label_values",
    "run_labels",
    "run_metadata",
    "run_query",
    "run_query_range",
    "run_series",
    "series",
    "test_connection",
]


@dataclass(frozen=True)
class CrossOrg:
    """Explicit staff mode: no org matcher is injected. The actor's user must be staff; each query is audited."""

    actor: Actor
    reason: str = ""


@dataclass(frozen=True)
class Result:
    data: Any
    cache: str  # "hit" | "miss" | "bypass"
    datasource: str = ""


# ---------------------------------------------------------------- public API (data only)


def query(org: Organization, promql_text: str, time: Any = None, **kw: Any) -> dict[str, Any]:
    data: dict[str, Any] = run_query(org, promql_text, time, **kw).data
    return data


def query_range(org: Organization, promql_text: str, start: Any, end: Any, step: Any,
                **kw: Any) -> dict[str, Any]:
    data: dict[str, Any] = run_query_range(org, promql_text, start, end, step, **kw).data
    return data


def series(org: Organization, match: Sequence[str] | None = None, start: Any = None, end: Any = None,
           **kw: Any) -> list[dict[str, str]]:
    data: list[dict[str, str]] = run_series(org, match, start, end, **kw).data
    return data


def labels(org: Organization, match: Sequence[str] | None = None, start: Any = None, end: Any = None,
           **kw: Any) -> list[str]:
    data: list[str] = run_labels(org, match, start, end, **kw).data
    return data


def label_values(org: Organization, name: str, match: Sequence[str] | None = None, start: Any = None,
                 end: Any = None, **kw: Any) -> list[str]:
    data: list[str] = run_label_values(org, name, match, start, end, **kw).data
    return data


def metadata(org: Organization, metric: str | None = None, **kw: Any) -> dict[str, Any]:
    data: dict[str, Any] = run_metadata(org, metric, **kw).data
    return data


# ---------------------------------------------------------------- with cache status


def run_query(org: Organization, promql_text: str, time: Any = None, *, timeout: Any = None,
              cross_org: CrossOrg | None = None, use_cache: bool = True,
              datasource: Datasource | None = None) -> Result:
    ds, limits = _datasource(org, datasource), guards.Limits.current()
    enforced = _enforce(org, ds, promql_text, cross_org)
    at: float
    if time in (None, ""):
        # "Now", aligned so that concurrent dashboards share one cache entry for a few seconds.
        recent = max(1, result_cache.ttl_for(None))
        at = math.floor(_time.time() / recent) * recent
    else:
        at = guards.parse_time("time", time)
    q_timeout = guards.query_timeout(timeout, limits)
    params = {"query": enforced, "time": at}

    def call(client: PrometheusClient) -> Any:
        data = client.query(enforced, _fmt(at), timeout=_dur(q_timeout))
        _check_result_size(data, limits)
        return data

    ttl = result_cache.ttl_for(at)
    return _run(org, ds, "query", params, ttl if use_cache else 0, call, limits, cross_org, promql_text)


def run_query_range(org: Organization, promql_text: str, start: Any, end: Any, step: Any, *,
                    timeout: Any = None, cross_org: CrossOrg | None = None, use_cache: bool = True,
                    datasource: Datasource | None = None) -> Result:
    ds, limits = _datasource(org, datasource), guards.Limits.current()
    s, e = guards.parse_time("start", start), guards.parse_time("end", end)
    st = guards.parse_duration("step", step)
    guards.check_range(s, e, st, limits)
    enforced = _enforce(org, ds, promql_text, cross_org)
    # Step-aligned range: the same dashboard refreshed a few seconds later asks for the same points,
    # so the entry is shared (as Thanos/Cortex query-frontends do with step alignment).
    s_al, e_al = math.floor(s / st) * st, math.floor(e / st) * st
    guards.check_range(s_al, e_al, st, limits)  # alignment can add one point; the backend must not see 11001
    q_timeout = guards.query_timeout(timeout, limits)
    params = {"query": enforced, "start": s_al, "end": e_al, "step": st}

    def call(client: PrometheusClient) -> Any:
        data = client.query_range(enforced, _fmt(s_al), _fmt(e_al), _fmt(st), timeout=_dur(q_timeout))
        _check_result_size(data, limits)
        return data

    ttl = result_cache.ttl_for(e_al, st)
    return _run(org, ds, "query_range", params, ttl if use_cache else 0, call, limits, cross_org, promql_text)


def run_series(org: Organization, match: Sequence[str] | None = None, start: Any = None, end: Any = None, *,
               cross_org: CrossOrg | None = None, use_cache: bool = True,
               datasource: Datasource | None = None) -> Result:
    ds, limits = _datasource(org, datasource), guards.Limits.current()
    s, e = _window(start, end, limits)
    matchers = _enforce_matchers(org, ds, list(match or []), cross_org)
    if not matchers:
        raise guards.bad_param("match[]", "no match[] parameter provided")

    def call(client: PrometheusClient) -> Any:
        data = client.series(matchers, _opt(s), _opt(e))
        guards.check_series(len(data or []), limits)
        return data

    params = {"match": matchers, "start": s, "end": e}
    return _run(org, ds, "series", params, _ttl(e, use_cache), call, limits, cross_org, " ".join(match or []))


def run_labels(org: Organization, match: Sequence[str] | None = None, start: Any = None, end: Any = None, *,
               cross_org: CrossOrg | None = None, use_cache: bool = True,
               datasource: Datasource | None = None) -> Result:
    ds, limits = _datasource(org, datasource), guards.Limits.current()
    s, e = _window(start, end, limits)
    matchers = _enforce_matchers(org, ds, list(match or []), cross_org)

    def call(client: PrometheusClient) -> Any:
        return sorted(client.labels(matchers, _opt(s), _opt(e)) or [])

    params = {"match": matchers, "start": s, "end": e}
    return _run(org, ds, "labels", params, _ttl(e, use_cache), call, limits, cross_org, " ".join(match or []))


def run_label_values(org: Organization, name: str, match: Sequence[str] | None = None, start: Any = None,
                     end: Any = None, *, cross_org: CrossOrg | None = None, use_cache: bool = True,
                     datasource: Datasource | None = None) -> Result:
    if not promql.is_label_name(name):
        raise guards.bad_param("name", f"invalid label name: {name!r}")
    ds, limits = _datasource(org, datasource), guards.Limits.current()
    s, e = _window(start, end, limits)
    matchers = _enforce_matchers(org, ds, list(match or []), cross_org)

    def call(client: PrometheusClient) -> Any:
        return sorted(client.label_values(name, matchers, _opt(s), _opt(e)) or [])

    params = {"name": name, "match": matchers, "start": s, "end": e}
    return _run(org, ds, "label_values", params, _ttl(e, use_cache), call, limits, cross_org,
                " ".join(match or []))


def run_metadata(org: Organization, metric: str | None = None, *, cross_org: CrossOrg | None = None,
                 use_cache: bool = True, datasource: Datasource | None = None) -> Result:
    """Prometheus's metadata API is not label-aware, so it is filtered to the metric names the org has."""
    if metric and not promql.is_metric_name(metric):
        raise guards.bad_param("metric", f"invalid metric name: {metric!r}")
    ds, limits = _datasource(org, datasource), guards.Limits.current()
    scoped = not _unscoped(ds, cross_org)
    org_matcher = _enforce_matchers(org, ds, [], cross_org)

    def call(client: PrometheusClient) -> Any:
        data = client.metadata(metric) or {}
        if scoped:
            own = set(client.label_values("__name__", org_matcher) or [])
            data = {k: v for k, v in data.items() if _family_is_own(k, own)}
        return data

    params = {"metric": metric or "", "scoped": scoped}
    return _run(org, ds, "metadata", params, _ttl(None, use_cache), call, limits, cross_org, metric or "")


def test_connection(ds: Datasource) -> dict[str, Any]:
    """Staff's "test connection": one trivial query with the datasource's own credentials."""
    started = _time.monotonic()
    try:
        client = client_for(ds, ds.auth_headers())
        client.query("1", timeout=_dur(min(ds.timeout_seconds, 10.0)))
    except (BackendError, crypto.DecryptionError) as e:
        return {"ok": False, "message": str(e), "latency_ms": _elapsed_ms(started)}
    return {"ok": True, "message": f"{ds.name} answered a query", "latency_ms": _elapsed_ms(started)}


# ---------------------------------------------------------------- internals


def _datasource(org: Organization, datasource: Datasource | None) -> Datasource | None:
    """The datasource, or None when none is configured: the request is still validated and enforced
    first (a query naming another org is a 400 whatever the backend), then `_run` answers 503."""
    return datasource if datasource is not None else Datasource.configured_for(org)


def _unscoped(ds: Datasource | None, cross_org: CrossOrg | None) -> bool:
    """Staff mode (audited in _run) or a backend that isolates by X-Scope-OrgID: parse, no matcher."""
    return cross_org is not None or (ds is not None and ds.is_multi_tenant)


def _label(org: Organization, ds: Datasource | None) -> str:
    return org_label(org, ds)[0]


def _enforce(org: Organization, ds: Datasource | None, text: str, cross_org: CrossOrg | None) -> str:
    if not isinstance(text, str) or not text.strip():
        raise guards.bad_param("query", "missing query expression")
    try:
        if _unscoped(ds, cross_org):
            _require_staff(cross_org)
            return promql.normalize(text)
        return promql.enforce(text, _label(org, ds), org.label_value, platform_series.allowed_names)
    except promql.PromQLError as e:
        raise _promql_error(e, text) from e


def _enforce_matchers(org: Organization, ds: Datasource | None, match: list[str],
                      cross_org: CrossOrg | None) -> list[str]:
    try:
        if _unscoped(ds, cross_org):
            _require_staff(cross_org)
            return [promql.normalize_selector(m) for m in match]
        return promql.enforce_matchers(match, _label(org, ds), org.label_value, platform_series.allowed_names)
    except promql.PromQLError as e:
        raise _promql_error(e, " ".join(match)) from e


def _require_staff(cross_org: CrossOrg | None) -> None:
    if cross_org is not None and not getattr(cross_org.actor.user, "is_staff", False):
        raise ServiceError(403, "permission_denied",
                           "Cross-organization queries are for platform operators (staff) only.")


def _promql_error(e: promql.PromQLError, text: str) -> ServiceError:
    details: dict[str, Any] = {"position": e.position, "query": text}
    if isinstance(e, promql.ForeignOrgMatcher):
        details["matcher"] = e.matcher
        return ServiceError(400, "foreign_org_matcher", e.message, details)
    return ServiceError(400, "invalid_promql", e.message, details)


def _run(org: Organization, ds: Datasource | None, endpoint: str, params: dict[str, Any], ttl: int,
         call: Callable[[PrometheusClient], Any], limits: guards.Limits, cross_org: CrossOrg | None,
         original: str) -> Result:
    if ds is None:
        ds = Datasource.for_org(org)  # raises the 503 "no datasource configured"
    scope_org = None if cross_org is not None else org
    if cross_org is not None:
        _audit_cross_org(ds, endpoint, original, cross_org)
    ds_id = f"{ds.pk or 'env'}:{ds.kind}:{ds.query_url}"
    key = result_cache.key(scope_org, ds_id, endpoint, params)

    def compute() -> Any:
        with guards.concurrency_slot(scope_org, limits):
            try:
                client = client_for(ds, ds.headers_for(scope_org))
                return call(client)
            except crypto.DecryptionError as e:
                raise ServiceError(502, "backend_error", f"datasource {ds.name!r}: {e}",
                                   {"backend": BACKEND_PROMETHEUS, "datasource": ds.name}) from e
            except BackendError as e:
                raise _backend_error(ds, e) from e

    if ttl <= 0:  # the caller asked for fresh data (Cache-Control: no-cache): no read, no write
        return Result(data=compute(), cache="bypass", datasource=ds.name)
    data, hit = result_cache.get_or_compute(key, ttl, compute)
    return Result(data=data, cache="hit" if hit else "miss", datasource=ds.name)


def _backend_error(ds: Datasource, e: BackendError) -> ServiceError:
    details = {"backend": BACKEND_PROMETHEUS, "datasource": ds.name, "backend_error_type": e.error_type or None}
    if isinstance(e, BackendTimeout):
        return ServiceError(504, "backend_timeout", f"datasource {ds.name!r} timed out: {e.message}", details)
    if is_bad_query(e):
        return ServiceError(400, "backend_rejected", e.message, details)
    if isinstance(e, BackendUnavailable):
        return ServiceError(503, "backend_unavailable", f"datasource {ds.name!r} is unavailable: {e.message}",
                            details)
    return ServiceError(502, "backend_error", f"datasource {ds.name!r} failed: {e.message}", details)


def _audit_cross_org(ds: Datasource, endpoint: str, original: str, cross_org: CrossOrg) -> None:
    audit.record(cross_org.actor, "cross_org_query", ds,
                 {"endpoint": endpoint, "query": original[:2000], "reason": cross_org.reason[:500]},
                 org=None)


# Series names a metric family expands to (Prometheus text and OpenMetrics), e.g. family `jobs` (an
# OpenMetrics counter) has series `jobs_total`; a histogram `h` has `h_bucket`, `h_sum`, `h_count`.
_FAMILY_SUFFIXES = ("", "_total", "_bucket", "_sum", "_count", "_created", "_info", "_gsum", "_gcount")


def _family_is_own(family: str, own_names: set[str]) -> bool:
    return any(family + suffix in own_names for suffix in _FAMILY_SUFFIXES)


def _check_result_size(data: Any, limits: guards.Limits) -> None:
    if isinstance(data, dict) and data.get("resultType") in ("vector", "matrix"):
        guards.check_series(len(data.get("result") or []), limits)


def _window(start: Any, end: Any, limits: guards.Limits) -> tuple[float | None, float | None]:
    s = guards.parse_time("start", start) if start not in (None, "") else None
    e = guards.parse_time("end", end) if end not in (None, "") else None
    guards.check_window(s, e, limits)
    return s, e


def _ttl(end: float | None, use_cache: bool) -> int:
    return result_cache.ttl_for(end) if use_cache else 0


def _fmt(v: float) -> str:
    return repr(float(v)) if v != int(v) else str(int(v))


def _opt(v: float | None) -> str | None:
    return None if v is None else _fmt(v)


def _dur(seconds: float) -> str:
    return f"{max(1, round(seconds * 1000))}ms"


def _elapsed_ms(started: float) -> int:
    return round((_time.monotonic() - started) * 1000)
