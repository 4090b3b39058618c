"""The two write endpoints: thin views around ingest.py. CSRF-exempt (token-authenticated machines)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from logs_app.otlp import common as otlp
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
    resp = json_error(401, "authentication_failed", e.message)
    resp["WWW-Authenticate"] = 'Bearer realm="ingest"'
    return resp


@csrf_exempt
@require_POST
def otlp_metrics(request: HttpRequest) -> HttpResponse:
    """OTLP/HTTP metrics. Auth, body reading, decoding and error answers are the shared OTLP plumbing
    of logs_app (google.rpc.Status bodies in the request's encoding, Retry-After on 429/503)."""
    kind = otlp.JSON
    org = None
    try:
        org = otlp.authenticate(request)
        kind = otlp.content_kind(request)
        msg = otlp.decode_request(otlp.read_body(request), kind, ExportMetricsServiceRequest, "metrics")
        if not isinstance(msg, ExportMetricsServiceRequest):
            # The lenient twin parsed it: some string is not UTF-8, which no label may hold.
            raise otlp.OtlpError(400, "Malformed protobuf body: a string field is not valid UTF-8.")
        result = ingest.ingest_otlp(org, msg)
    except otlp.OtlpError as e:
        reason = "unauthorized" if e.status == 401 else f"http_{e.status}"
        INGEST_REJECTIONS.labels(org=str(org.pk) if org else "", signal="metrics", reason=reason).inc()
        return e.response(kind)
    except ServiceError as e:
        retry_after = e.headers.get("Retry-After")
        return otlp.error_response(e.status_code, e.message, kind, int(retry_after) if retry_after else None)
    return otlp.encode_response(ingest.otlp_response(result), kind)


@csrf_exempt
@require_POST
def remote_write(request: HttpRequest) -> HttpResponse:
    try:
        org = authenticate_ingest(request)
    except TokenError as e:
        return _unauthorized(e)
    try:
        result = ingest.ingest_remote_write(org, body.read_remote_write(request))
    except ServiceError as e:
        if e.status_code in (400, 413, 415):
            INGEST_REJECTIONS.labels(org=str(org.pk), signal="metrics", reason=e.code).inc()
        return _error(e)
    rej = result.rejections
    if rej.count:
        # As Prometheus's own receiver: 400 (do not resend) naming what was refused; the rest is written.
        return json_error(400, "partially_rejected",
                          f"{rej.count} of {result.received} samples refused: {rej.message()}",
                          {"rejected_samples": rej.count, "written_samples": result.written,
                           "reasons": dict(rej.reasons)})
    return HttpResponse(status=204)
