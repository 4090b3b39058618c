"""The one httpx client for Prometheus-HTTP-API backends (Prometheus, VictoriaMetrics, Mimir): queries
for metrics federation, and the lifecycle calls of the Prometheus the portal manages (rule reload, loaded
rules, scrape targets).

It knows nothing about organizations: callers (metrics_app.federation) pass already-enforced queries
and the tenant headers. Errors are the one family of portal.backends.errors, split the way callers must
react to them:

- `BackendUnavailable` (transient): connection refused/reset, a 5xx or 429 → retried once;
- `BackendTimeout` (transient): our read timeout, a 504, or the backend's own `errorType: timeout`; not
  retried (the query already spent its budget);
- `BackendRejected` (permanent): a 4xx. `is_bad_query` tells a 400/422 (bad PromQL, too many samples:
  the asker's fault, answered with the backend's message) from the rest (credentials, a wrong path: the
  operator's); never retried;
- `BackendError` (permanent): a 2xx body that is not Prometheus JSON.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from portal.backends.errors import (
    BackendError,
    BackendRejected,
    BackendTimeout,
    BackendUnavailable,
    from_response,
    from_transport,
)

__all__ = [
    "PrometheusClient",
    "client_for",
    "is_bad_query",
    "managed_prometheus",
]

Params = Sequence[tuple[str, str]]


def is_bad_query(e: BackendError) -> bool:
    """The backend refused the query itself (bad PromQL, too many samples): the asker's fault, not ours."""
    return isinstance(e, BackendRejected) and (e.status in (400, 422) or e.error_type in ("bad_data", "execution"))


_POOL_LOCK = threading.Lock()
_POOLS: dict[tuple[str, float], httpx.Client] = {}


def _new_client(base_url: str, timeout: float, transport: httpx.BaseTransport | None = None) -> httpx.Client:
    return httpx.Client(
        base_url=base_url,
        # Connect fails fast (a down backend must not hold a worker); reads may take the query's time.
        timeout=httpx.Timeout(timeout, connect=min(3.0, timeout)),
        limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
        follow_redirects=False,
        transport=transport,
    )


def _pool(base_url: str, timeout: float) -> httpx.Client:
    """One pooled httpx.Client per backend and timeout, shared across threads (httpx.Client is
    thread-safe), so keep-alive connections are reused between requests."""
    key = (base_url, timeout)
    with _POOL_LOCK:
        client = _POOLS.get(key)
        if client is None:
            client = _new_client(base_url, timeout)
            _POOLS[key] = client
        return client


class PrometheusClient:
    """Typed calls to `<base_url>/api/v1/*` (every method returns Prometheus's `data` member) and the
    lifecycle endpoint `/-/reload`."""

    def __init__(self, base_url: str, *, name: str = "prometheus", timeout: float = 30.0,
                 headers: Mapping[str, str] | None = None, transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.name = name
        self.timeout = timeout
        self.headers = dict(headers or {})
        # The HTTP read timeout is a little longer than the query timeout we pass, so the backend's
        # own (clearer) timeout error normally arrives first. A test's transport gets its own client.
        if transport is not None:
            self._http = _new_client(self.base_url, timeout + 2.0, transport)
        else:
            self._http = _pool(self.base_url, timeout + 2.0)

    @property
    def configured(self) -> bool:
        return bool(self.base_url)

    # ------------------------------------------------------------ API

    def query(self, query: str, time: str | None = None, *, timeout: str | None = None) -> Any:
        params = [("query", query)]
        if time is not None:
            params.append(("time", time))
        params.append(("timeout", timeout or _dur(self.timeout)))
        return self._call("POST", "/api/v1/query", params)

    def query_range(self, query: str, start: str, end: str, step: str, *, timeout: str | None = None) -> Any:
        params = [("query", query), ("start", start), ("end", end), ("step", step),
                  ("timeout", timeout or _dur(self.timeout))]
        return self._call("POST", "/api/v1/query_range", params)

    def series(self, match: Sequence[str], start: str | None = None, end: str | None = None,
               limit: int | None = None) -> Any:
        return self._call("POST", "/api/v1/series", _window([("match[]", m) for m in match], start, end, limit))

    def labels(self, match: Sequence[str], start: str | None = None, end: str | None = None,
               limit: int | None = None) -> Any:
        return self._call("POST", "/api/v1/labels", _window([("match[]", m) for m in match], start, end, limit))

    def label_values(self, name: str, match: Sequence[str], start: str | None = None, end: str | None = None,
                     limit: int | None = None) -> Any:
        params = _window([("match[]", m) for m in match], start, end, limit)
        return self._call("GET", f"/api/v1/label/{name}/values", params)

    def metadata(self, metric: str | None = None, limit: int | None = None) -> Any:
        params: list[tuple[str, str]] = []
        if metric:
            params.append(("metric", metric))
        if limit is not None:
            params.append(("limit", str(limit)))
        return self._call("GET", "/api/v1/metadata", params)

    def buildinfo(self) -> Any:
        return self._call("GET", "/api/v1/status/buildinfo", [])

    def rule_groups(self) -> list[dict[str, Any]]:
        """The rule groups Prometheus has loaded (what a sync reads back after a reload)."""
        data = self._call("GET", "/api/v1/rules", [])
        groups = data.get("groups") if isinstance(data, dict) else None
        if not isinstance(groups, list):
            raise BackendError(self.name, "the rules answer has no `groups` list")
        return groups

    def targets(self, state: str = "active") -> list[dict[str, Any]]:
        """The scrape targets in `state` (`active` or `dropped`), as Prometheus reports them."""
        data = self._call("GET", "/api/v1/targets", [("state", state)])
        key = f"{state}Targets"
        found = data.get(key) if isinstance(data, dict) else None
        if not isinstance(found, list):
            raise BackendError(self.name, f"the targets answer has no `{key}` list")
        return found

    def reload(self) -> None:
        """`POST /-/reload`. Not retried: a refused reload (HTTP 500: a rule file it cannot load) would
        be refused again, and the caller decides what to set aside."""
        resp = self._send("POST", self.base_url + "/-/reload", [])
        error = from_response(self.name, resp)
        if error is not None:
            raise error

    def ready(self) -> bool:
        try:
            self.query("1")
        except BackendError:
            return False
        return True

    # ------------------------------------------------------------ transport

    def _call(self, method: str, path: str, params: Params) -> Any:
        url = self.base_url + path
        attempts = 2  # one retry, transient errors only (a refused connection may be a restart)
        last: BackendError | None = None
        for _ in range(attempts):
            try:
                return self._decode(self._send(method, url, params))
            except BackendUnavailable as e:
                last = e
            # Timeouts are not retried: the query already spent its budget.
        assert last is not None
        raise last

    def _send(self, method: str, url: str, params: Params) -> httpx.Response:
        if not self.base_url:
            raise BackendUnavailable(self.name, "no URL is configured for this backend")
        try:
            if method == "GET":
                return self._http.get(url, params=list(params), headers=self.headers)
            return self._http.post(url, data=_form(params), headers=self.headers)
        except httpx.RequestError as e:
            raise from_transport(self.name, self.base_url, e, self.timeout) from e

    def _decode(self, resp: httpx.Response) -> Any:
        status = resp.status_code
        try:
            body = resp.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and body.get("status") == "success":
            return body.get("data")
        error_type = str(body.get("errorType", "")) if isinstance(body, dict) else ""
        message = str(body.get("error", "")) if isinstance(body, dict) else resp.text[:300]
        if error_type == "timeout" or status == 504:
            raise BackendTimeout(self.name, message or "query timed out", error_type="timeout", status=status)
        if error_type == "canceled" or status >= 500 or status == 429:
            raise BackendUnavailable(self.name, message or f"HTTP {status}", error_type=error_type, status=status)
        if status in (401, 403):
            raise BackendRejected(self.name, f"the backend refused our credentials (HTTP {status})", status=status)
        if 400 <= status < 500 or error_type in ("bad_data", "execution"):
            raise BackendRejected(self.name, message or f"HTTP {status}", error_type=error_type, status=status)
        raise BackendError(self.name, message or f"unexpected HTTP {status}", error_type=error_type, status=status)


def _window(params: list[tuple[str, str]], start: str | None, end: str | None,
            limit: int | None) -> list[tuple[str, str]]:
    if start is not None:
        params.append(("start", start))
    if end is not None:
        params.append(("end", end))
    if limit is not None:
        params.append(("limit", str(limit)))
    return params


def _form(params: Params) -> dict[str, list[str]]:
    """httpx form data keeps repeated keys when given lists."""
    form: dict[str, list[str]] = {}
    for k, v in params:
        form.setdefault(k, []).append(v)
    return form


def _dur(seconds: float) -> str:
    return f"{max(1, round(seconds * 1000))}ms"


def client_for(datasource: Any, headers: Mapping[str, str] | None = None) -> PrometheusClient:
    """A client for a `metrics_app.models.Datasource` (typed loosely to keep portal/ free of app imports)."""
    return PrometheusClient(datasource.query_url, name=datasource.name, timeout=float(datasource.timeout_seconds),
                            headers=headers)


def managed_prometheus(transport: httpx.BaseTransport | None = None) -> PrometheusClient:
    """The Prometheus the portal manages (PROMETHEUS_URL): it loads the rule files the alert sync writes
    and scrapes the org targets listed in the file_sd files. Not configured when the URL is empty."""
    from django.conf import settings

    return PrometheusClient(settings.PROMETHEUS_URL or "", name="prometheus", timeout=10.0, transport=transport)
