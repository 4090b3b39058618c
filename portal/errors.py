"""One JSON error shape for everything under /api/:

    {"error": {"status": 404, "code": "not_found", "message": "…", "details": {...}}}

Codes come from the closed list in portal/error_codes.py (documented in docs/api-errors.md).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

from portal import error_codes


def error_body(status: int, code: str, message: str, details: Any = None) -> dict[str, Any]:
    error_codes.emitted(status, code)
    err: dict[str, Any] = {"status": status, "code": code, "message": message}
    if details:
        err["details"] = details
    return {"error": err}


def json_error(status: int, code: str, message: str, details: Any = None, **headers: str) -> JsonResponse:
    resp = JsonResponse(error_body(status, code, message, details), status=status)
    for k, v in headers.items():
        resp[k.replace("_", "-")] = v
    return resp


def _message(detail: Any) -> str:
    if isinstance(detail, list) and detail:
        return _message(detail[0])
    if isinstance(detail, dict):
        for key, value in detail.items():
            prefix = "" if key in ("non_field_errors", "detail") else f"{key}: "
            return prefix + _message(value)
    return str(detail)


class ServiceError(exceptions.APIException):
    """Raised by services for a clear, user-facing 4xx/5xx (bad PromQL, backend down, limit hit)."""

    def __init__(self, status: int, code: str, message: str, details: Any = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        error_codes.emitted(status, code)
        self.status_code = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}


def backend_not_configured(backend: str, message: str) -> ServiceError:
    """The one answer for "this portal has no such backend configured": 503 with the backend's name, like
    a backend that is down (the request is fine; the install cannot serve it), never a 4xx."""
    return ServiceError(503, "backend_not_configured", message, {"backend": backend})


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or "Permission denied.")
    if isinstance(exc, ServiceError):
        return Response(error_body(exc.status_code, exc.code, exc.message, exc.details),
                        status=exc.status_code, headers=exc.headers)
    response = exception_handler(exc, context)
    if response is None:
        return None
    assert isinstance(exc, exceptions.APIException)
    detail = exc.detail
    code = exc.get_codes()
    if isinstance(exc, exceptions.ValidationError):
        return Response(error_body(response.status_code, "invalid", _message(detail), detail),
                        status=response.status_code, headers=_auth_headers(response))
    code_str = error_codes.DRF_ALIASES.get(code, code) if isinstance(code, str) else "error"
    response.data = error_body(response.status_code, code_str, _message(detail))
    return response


def _auth_headers(response: Response) -> dict[str, str]:
    return {k: v for k, v in response.items() if k.lower() in ("www-authenticate", "retry-after")}
