"""The one error family of every backend client in portal/backends (Prometheus-API datasources, the
alert-sync Prometheus, Alertmanager, remote-write receivers).

Callers decide by class and by `transient`, never by parsing a message:

- `BackendUnavailable` (transient): no connection (refused, reset, DNS, connect timeout) or a 5xx/429
  answer: the backend may come back, so tasks retry;
- `BackendTimeout` (transient): connected but no answer in time (or the backend's own query timeout);
- `BackendRejected` (permanent): a 4xx answer; `status` and the backend's `message` say why. Retrying
  the same request gets the same answer;
- `BackendError` itself (permanent): an answer that is none of these (a 200 that is not the backend's
  JSON).

`status` is the HTTP status when the backend answered and None when it did not, so "did the backend
itself refuse this?" is `exc.status is not None`.
"""

from __future__ import annotations

import httpx

__all__ = [
    "BackendError",
    "BackendRejected",
    "BackendTimeout",
    "BackendUnavailable",
    "from_response",
    "from_transport",
]


class BackendError(Exception):
    transient: bool = False

    def __init__(self, backend: str, message: str, *, status: int | None = None, error_type: str = "") -> None:
        super().__init__(backend, message)
        self.backend = backend
        self.message = message
        self.status = status
        self.error_type = error_type  # the backend's own error kind when it names one (Prometheus `errorType`)

    def __str__(self) -> str:
        return f"{self.backend}: {self.message}"


class BackendUnavailable(BackendError):
    transient = True

    def __str__(self) -> str:
        return f"{self.backend} unavailable: {self.message}"


class BackendTimeout(BackendError):
    transient = True

    def __str__(self) -> str:
        return f"{self.backend} timed out: {self.message}"


class BackendRejected(BackendError):
    def __str__(self) -> str:
        return f"{self.backend} rejected the request ({self.status}): {self.message}"


def from_transport(backend: str, url: str, exc: httpx.RequestError, timeout: float | None = None) -> BackendError:
    """The error for a request that got no answer. A connect timeout is the backend being away (like a
    refused connection), not a slow answer."""
    if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
        within = f" within {timeout:g}s" if timeout is not None else " in time"
        return BackendTimeout(backend, f"no answer from {url}{within} ({type(exc).__name__})", error_type="timeout")
    return BackendUnavailable(backend, f"cannot reach {url}: {type(exc).__name__}: {exc}")


def from_response(backend: str, resp: httpx.Response, message: str = "") -> BackendError | None:
    """The error for a non-2xx answer (None for 2xx). `message` is the backend's own words when the
    caller decoded them; otherwise the start of the body."""
    status = resp.status_code
    if status < 300:
        return None
    text = message or resp.text.strip()[:500] or resp.reason_phrase
    if status == 504:  # a proxy in front gave up waiting: the backend is slow, not gone
        return BackendTimeout(backend, f"HTTP {status}: {text}", status=status, error_type="timeout")
    if status >= 500 or status == 429:
        return BackendUnavailable(backend, f"HTTP {status}: {text}", status=status)
    return BackendRejected(backend, text, status=status)
