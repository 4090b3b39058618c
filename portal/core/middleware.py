"""Cross-cutting middleware: request metrics, and JSON errors for Django's own 404/500 under /api/."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse

from portal.core import metrics
from portal.errors import json_error

log = logging.getLogger(__name__)

API_PREFIXES = ("/api/",)
# Endpoints machines call (API clients, telemetry senders, Prometheus clients, Alertmanager): an outage
# answers them in JSON, with Retry-After, so that they retry (OTLP SDKs retry 503, never 500).
MACHINE_PREFIXES = ("/api/", "/otlp/", "/prometheus/", "/hooks/")
DATABASE_RETRY_AFTER = "5"


class RequestMetricsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        start = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = match.view_name if match else "<unresolved>"
        metrics.REQUEST_LATENCY.labels(view=view, method=request.method or "").observe(time.perf_counter() - start)
        metrics.REQUESTS.labels(view=view, method=request.method or "", status=str(response.status_code)).inc()
        return response


class ApiErrorMiddleware:
    """Django answers unknown URLs and crashes with HTML; under /api/ they get the JSON error shape."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith(API_PREFIXES) or response.status_code < 400:
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        if response.status_code == 404:
            return json_error(404, "not_found", f"No API endpoint at {request.path}.")
        if response.status_code == 400:
            return json_error(400, "bad_request", "Bad request.")
        if response.status_code == 403:
            return json_error(403, "permission_denied", "Forbidden (CSRF check failed or not allowed).")
        if response.status_code == 405:
            return json_error(405, "method_not_allowed", f"Method {request.method} not allowed here.")
        code = "server_error" if response.status_code == 500 else "error"
        return json_error(response.status_code, code, "The server could not complete the request.")

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, OperationalError | InterfaceError):
            return database_unavailable(request, exception)
        if not request.path.startswith(API_PREFIXES):
            return None
        if isinstance(exception, json.JSONDecodeError | UnicodeDecodeError):
            return json_error(400, "parse_error", "Malformed JSON body.")
        log.exception("unhandled error on %s", request.path)
        return json_error(500, "server_error", "Internal server error; it has been logged.")


def database_unavailable(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The portal's own database cannot be reached: a 503 naming it, in the caller's format, never a 500."""
    log.warning("database unavailable on %s: %s", request.path, exception)
    message = "The portal's database is unavailable; retry later."
    if request.path.startswith("/prometheus/"):
        from metrics_app.prom_views import prom_error  # the Prometheus API's own error format

        resp: HttpResponse = prom_error(503, "backend_unavailable", message, {"backend": "database"})
    elif request.path.startswith(MACHINE_PREFIXES):
        resp = json_error(503, "backend_unavailable", message, {"backend": "database"})
    else:
        resp = HttpResponse(f"<!doctype html><title>Unavailable</title><h1>Service unavailable</h1><p>{message}</p>",
                            status=503, content_type="text/html; charset=utf-8")
    resp["Retry-After"] = DATABASE_RETRY_AFTER
    return resp
