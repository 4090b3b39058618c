"""The one Alertmanager client (API v2 + lifecycle). Every alert/silence call takes the org's label
matcher and applies it here, so callers cannot forget it."""

from __future__ import annotations

import threading
from typing import Any

import httpx
from django.conf import settings

from portal.backends.errors import BackendRejected, BackendUnavailable, from_response, from_transport

TIMEOUT = httpx.Timeout(5.0, connect=2.0)
_POOL_LOCK = threading.Lock()
_POOLS: dict[str, httpx.Client] = {}


def _client(base_url: str, transport: httpx.BaseTransport | None) -> httpx.Client:
    """One pooled httpx.Client per Alertmanager URL (thread-safe, keep-alive reused); a test's transport
    gets its own."""
    if transport is not None:
        return httpx.Client(base_url=base_url, timeout=TIMEOUT, transport=transport)
    with _POOL_LOCK:
        client = _POOLS.get(base_url)
        if client is None:
            client = _POOLS[base_url] = httpx.Client(base_url=base_url, timeout=TIMEOUT)
        return client


class AlertmanagerClient:
    name = "alertmanager"

    def __init__(self, base_url: str | None = None, transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = (base_url if base_url is not None else settings.ALERTMANAGER_URL).rstrip("/")
        self._client = _client(self.base_url, transport)

    @property
    def configured(self) -> bool:
        return bool(self.base_url)

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if not self.base_url:
            raise BackendUnavailable(self.name, "ALERTMANAGER_URL is not configured")
        try:
            resp = self._client.request(method, path, **kwargs)
        except httpx.InvalidURL as exc:  # an id from the URL that httpx cannot put in a path
            raise BackendRejected(self.name, f"invalid request path: {exc}", status=400) from exc
        except httpx.RequestError as exc:
            raise from_transport(self.name, self.base_url, exc, TIMEOUT.read) from exc
        error = from_response(self.name, resp)
        if error is not None:
            raise error
        return resp

    # lifecycle
    def reload(self) -> None:
        self._call("POST", "/-/reload")

    def status(self) -> dict[str, Any]:
        data: dict[str, Any] = self._call("GET", "/api/v2/status").json()
        return data

    # alerts
    def alerts(self, label: str, value: str, *, active: bool = True, silenced: bool = True,
               inhibited: bool = True) -> list[dict[str, Any]]:
        params = [("filter", f'{label}="{value}"'), ("active", str(active).lower()),
                  ("silenced", str(silenced).lower()), ("inhibited", str(inhibited).lower())]
        data = self._call("GET", "/api/v2/alerts", params=params).json()
        # Alertmanager's filter already narrows; checking again costs nothing and guards against a
        # filter Alertmanager misparses.
        return [a for a in data if a.get("labels", {}).get(label) == value]

    def post_alerts(self, label: str, value: str, alerts: list[dict[str, Any]]) -> None:
        for alert in alerts:
            alert.setdefault("labels", {})[label] = value
        self._call("POST", "/api/v2/alerts", json=alerts)

    # silences
    def silences(self, label: str, value: str) -> list[dict[str, Any]]:
        data = self._call("GET", "/api/v2/silences", params={"filter": f'{label}="{value}"'}).json()
        return [s for s in data if _has_org_matcher(s, label, value)]

    def get_silence(self, label: str, value: str, silence_id: str) -> dict[str, Any] | None:
        try:
            s: dict[str, Any] = self._call("GET", f"/api/v2/silence/{silence_id}").json()
        except BackendRejected:
            return None
        return s if _has_org_matcher(s, label, value) else None

    def create_silence(self, label: str, value: str, silence: dict[str, Any]) -> str:
        matchers = [m for m in silence.get("matchers", []) if m.get("name") != label]
        matchers.append({"name": label, "value": value, "isRegex": False, "isEqual": True})
        body = {**silence, "matchers": matchers}
        body.pop("id", None)
        return str(self._call("POST", "/api/v2/silences", json=body).json()["silenceID"])

    def expire_silence(self, label: str, value: str, silence_id: str) -> bool:
        if self.get_silence(label, value, silence_id) is None:
            return False
        self._call("DELETE", f"/api/v2/silence/{silence_id}")
        return True


def _has_org_matcher(silence: dict[str, Any], label: str, value: str) -> bool:
    return any(m.get("name") == label and m.get("value") == value and not m.get("isRegex")
               and m.get("isEqual", True) for m in silence.get("matchers", []))


def client() -> AlertmanagerClient:
    return AlertmanagerClient()
