"""The one httpx client for remote-write receivers (Prometheus `/api/v1/write`, VictoriaMetrics, Mimir
`/api/v1/push`). One POST per call, classified into the backend error family; batching, retries with
backoff and bisection of refused batches are the forwarder's (metrics_in_app.forwarder)."""

from __future__ import annotations

import threading
from collections.abc import Mapping

import httpx

from portal.backends.errors import from_response, from_transport

HEADERS = {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
           "X-Prometheus-Remote-Write-Version": "0.1.0", "User-Agent": "observability-portal/metrics-in"}


class RemoteWriteClient:
    def __init__(self, *, timeout: float = 10.0, transport: httpx.BaseTransport | None = None) -> None:
        self.timeout = timeout
        self._transport = transport
        self._lock = threading.Lock()
        self._http: httpx.Client | None = None

    def _client(self) -> httpx.Client:
        # Built on first use: the receivers import the forwarder at startup, long before any write.
        if self._http is None:
            with self._lock:
                if self._http is None:
                    self._http = httpx.Client(
                        timeout=_timeout(self.timeout),
                        limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
                        follow_redirects=False,
                        transport=self._transport,
                    )
        return self._http

    def write(self, url: str, body: bytes, *, backend: str, headers: Mapping[str, str] | None = None,
              timeout: float | None = None) -> None:
        """POST one snappy-compressed WriteRequest. Raises BackendUnavailable (refused, 5xx, 429),
        BackendTimeout, or BackendRejected (any other 4xx: the samples themselves were refused)."""
        t = self.timeout if timeout is None else timeout
        try:
            resp = self._client().post(url, content=body, headers={**HEADERS, **(headers or {})},
                                       timeout=_timeout(t))
        except httpx.RequestError as e:
            raise from_transport(backend, url, e, t) from e
        error = from_response(backend, resp, resp.text.strip()[:300])
        if error is not None:
            raise error


def _timeout(seconds: float) -> httpx.Timeout:
    return httpx.Timeout(seconds, connect=min(2.0, seconds))
