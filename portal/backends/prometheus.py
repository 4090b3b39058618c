"""The one httpx client for Prometheus-HTTP-API backends (Prometheus, VictoriaMetrics, Mimir).

It knows nothing about organizations: callers (metrics_app.federation) pass already-enforced queries
and the tenant headers. Errors are split the way callers must react to them:

- `BackendUnavailable` (transient): connection refused/reset, 502/503/504 from a proxy → retried once,
  then a 502 naming the datasource;
- `BackendTimeout` (transient): our read timeout or the backend's own `errorType: timeout` → 504;
- `BackendBadRequest` (permanent): the backend's 400/422 (bad PromQL, too many samples) → 400 with its
  message; never retried;
- `BackendError` (permanent): anything else unexpected (a 500, a body that is not Prometheus JSON).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

__all__ = [
    "BackendBadRequest",
    "BackendError",
    "BackendTimeout",
    "BackendUnavailable",
    "PrometheusClient",
    "client_for",
]

Params = Sequence[tuple[str, str]]


class BackendError(Exception):
    transient = False

    def __init__(self, backend: str, message: str, *, error_type: str = "", status: int | None = None) -> None:
        super().__init__(f"{backend}: {message}")
        self.backend = backend
        self.message = message
        self.error_type = error_type
        self.status = status


class BackendUnavailable(BackendError):
    transient = True


class BackendTimeout(BackendError):
    transient = True


class BackendBadRequest(BackendError):
    """The backend rejected the request itself (its 400/422); the message is the backend's."""


_POOL_LOCK = threading.Lock()
_POOLS: dict[tuple[str, float], httpx.Client] = {}


def _pool(base_url: str, timeout: float) -> httpx.Client:
    """One pooled httpx.Client per backend and timeout, shared across threads (httpx.Client is
    thread-safe), so keep-alive connections are reused between requests."""
    key = (base_url, timeout)
    with _POOL_LOCK:
        client = _POOLS.get(key)
        if client is None:
            client = httpx.Client(
                base_url=base_url,
                # Connect fails fast (a down backend must not hold a worker); reads may take the query's time.
                timeout=httpx.Timeout(timeout, connect=min(3.0, timeout)),
                limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
                follow_redirects=False,
            )
            _POOLS[key] = client
        return client


class PrometheusClient:
    """Typed calls to `<base_url>/api/v1/*`; every method returns Prometheus's `data` member."""

    def __init__(self, base_url: str, *, name: str = "prometheus", timeout: float = 30.0,
                 headers: Mapping[str, str] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.name = name
        self.timeout = timeout
        self.headers = dict(headers or {})
        # The HTTP read timeout is a little longer than the query timeout we pass, so the backend's
        # own (clearer) timeout error normally arrives first.
        self._http = _pool(self.base_url, timeout + 2.0)

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
                return self._once(method, url, params)
            except BackendUnavailable as e:
                last = e
            # Timeouts are not retried: the query already spent its budget.
        assert last is not None
        raise last

    def _once(self, method: str, url: str, params: Params) -> Any:
        try:
            if method == "GET":
                resp = self._http.get(url, params=list(params), headers=self.headers)
            else:
                resp = self._http.post(url, data=_form(params), headers=self.headers)
        except httpx.TimeoutException as e:
            if isinstance(e, httpx.ConnectTimeout):
                raise BackendUnavailable(self.name, f"cannot connect to {self.base_url}: {e}") from e
            raise BackendTimeout(self.name, f"no answer within {self.timeout:g}s", error_type="timeout") from e
        except httpx.TransportError as e:
            raise BackendUnavailable(self.name, f"cannot reach {self.base_url}: {e}") from e
        return self._decode(resp)

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
        if error_type == "timeout" or status == 504 and not error_type:
            raise BackendTimeout(self.name, message or "query timed out", error_type="timeout", status=status)
        if error_type == "canceled" or status in (502, 503) or (status == 504):
            raise BackendUnavailable(self.name, message or f"HTTP {status}", error_type=error_type, status=status)
        if status in (400, 422) or error_type in ("bad_data", "execution"):
            raise BackendBadRequest(self.name, message or f"HTTP {status}", error_type=error_type or "bad_data",
                                    status=status)
        if status in (401, 403):
            raise BackendError(self.name, f"the backend refused our credentials (HTTP {status})", status=status)
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
