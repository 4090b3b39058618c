"""The Prometheus calls the alert sync needs: reload, read back loaded rules, and a range query for
the rule preview. Uses the Prometheus URL from settings (the backend whose rule files we write)."""

from __future__ import annotations

from typing import Any

import httpx
from django.conf import settings

from portal.backends.alertmanager import BackendRejected, BackendUnavailable

TIMEOUT = httpx.Timeout(10.0, connect=2.0)
NAME = "prometheus"


class PrometheusAdmin:
    def __init__(self, base_url: str | None = None, transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = (base_url if base_url is not None else settings.PROMETHEUS_URL).rstrip("/")
        self._client = httpx.Client(base_url=self.base_url, timeout=TIMEOUT, transport=transport)

    @property
    def configured(self) -> bool:
        return bool(self.base_url)

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if not self.base_url:
            raise BackendUnavailable(NAME, "PROMETHEUS_URL is not configured")
        try:
            resp = self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise BackendUnavailable(NAME, f"{type(exc).__name__}: {exc}") from exc
        if resp.status_code >= 500:
            raise BackendUnavailable(NAME, f"HTTP {resp.status_code}: {resp.text[:300]}")
        if resp.status_code >= 400:
            raise BackendRejected(NAME, resp.status_code, resp.text[:500])
        return resp

    def reload(self) -> None:
        self._call("POST", "/-/reload")

    def rule_groups(self) -> list[dict[str, Any]]:
        groups: list[dict[str, Any]] = self._call("GET", "/api/v1/rules").json()["data"]["groups"]
        return groups

    def query_range(self, query: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        data = self._call("POST", "/api/v1/query_range",
                          data={"query": query, "start": start, "end": end, "step": step}).json()
        result: list[dict[str, Any]] = data["data"]["result"]
        return result
