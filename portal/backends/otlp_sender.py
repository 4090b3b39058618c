"""A client for an OTLP/HTTP receiver (the portal's own, under /otlp): what the demo telemetry sender uses
to post logs and traces as an instrumented service would, with an org ingest token."""

from __future__ import annotations

from typing import Any

import httpx

from portal.backends.errors import from_response, from_transport

NAME = "otlp"
TIMEOUT = httpx.Timeout(10.0, connect=2.0)


class OtlpSender:
    def __init__(self, base_url: str, transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(base_url=self.base_url, timeout=TIMEOUT, transport=transport)

    def send(self, path: str, body: dict[str, Any], token: str) -> None:
        """POST one OTLP/JSON export request; raises the BackendError family on no answer or a non-2xx."""
        try:
            resp = self._client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
        except httpx.RequestError as exc:
            raise from_transport(NAME, self.base_url + path, exc, 10.0) from exc
        error = from_response(NAME, resp)
        if error is not None:
            raise error

    def close(self) -> None:
        self._client.close()
