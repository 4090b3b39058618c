"""The two write endpoints: thin views around ingest.py. CSRF-exempt (token-authenticated machines)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from metrics_in_app import body, ingest
from portal.core.metrics import INGEST_REJECTIONS
from portal.errors import ServiceError, json_error
from portal.tenancy.auth import TokenError, authenticate_ingest


def _error(e: ServiceError) -> HttpResponse:
    resp = json_error(e.status_code, e.code, e.message, e.details)
    for k, v in e.headers.items():
        resp[k] = v
    return resp


def _unauthorized(e: TokenError) -> HttpResponse:
    INGEST_REJECTIONS.labels(org="", signal="metrics", reason="unauthorized").inc()
    resp = json_error(401, "unauthorized", e.message)
    resp["WWW-Authenticate"] = 'Bearer realm="ingest"'
    return resp


@csrf_exempt
@require_POST
def otlp_metrics(request: HttpRequest) -> HttpResponse:
    try:
        org = authenticate_ingest(request)
    except TokenError as e:
        return _unauthorized(e)
    content_type = (request.content_type or "").lower()
    try:
        req = ingest.parse_otlp(body.read_body(request), content_type)
        result = ingest.ingest_otlp(org, req)
    except ServiceError as e:
        if e.status_code in (400, 413, 415):
            INGEST_REJECTIONS.labels(org=org.slug, signal="metrics", reason=e.code).inc()
        return _error(e)
    payload, ctype = ingest.otlp_response(result, content_type)
    return HttpResponse(payload, content_type=ctype, status=200)


@csrf_exempt
@require_POST
def remote_write(request: HttpRequest) -> HttpResponse:
    try:
        org = authenticate_ingest(request)
    except TokenError as e:
        return _unauthorized(e)
    try:
        # Remote write 1.0 is always snappy; senders set the header, but a missing one means the same.
        result = ingest.ingest_remote_write(org, body.read_body(request, default_encoding="snappy"))
    except ServiceError as e:
        if e.status_code in (400, 413, 415):
            INGEST_REJECTIONS.labels(org=org.slug, signal="metrics", reason=e.code).inc()
        return _error(e)
    rej = result.rejections
    if rej.count:
        # As Prometheus's own receiver: 400 (do not resend) naming what was refused; the rest is written.
        return json_error(400, "partially_rejected",
                          f"{rej.count} of {result.received} samples refused: {rej.message()}",
                          {"rejected_samples": rej.count, "written_samples": result.written,
                           "reasons": dict(rej.reasons)})
    return HttpResponse(status=204)
