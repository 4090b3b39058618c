"""The OTLP/HTTP logs and traces receivers: POST /otlp/v1/logs and /otlp/v1/traces.

Public (their own ingest-token auth), CSRF-exempt. The org is the ingest token's; the payload cannot
name another. Answers per the OTLP/HTTP spec: 200 with partial success, 400 malformed, 401 token,
413 too large, 415 content type, 429 per-org rate limit, 503 overloaded or store down (Retry-After).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from logs_app.otlp import common
from logs_app.otlp.convert import Converted, convert_logs, convert_spans
from logs_app.store import get_store
from portal.core import cache
from portal.tenancy.models import Organization

log = logging.getLogger(__name__)
_gate = common.ConcurrencyGate("LOGS_INGEST_MAX_CONCURRENCY", 16)


def _rate_limit(org: Organization, records: int) -> None:
    """Per-org records per second (0 = unlimited), counted in the shared cache so every web process
    sees the same budget. Over it: 429 with Retry-After, the batch is not stored (the SDK retries)."""
    limit = int(getattr(settings, "LOGS_INGEST_RECORDS_PER_SECOND", 0))
    if limit <= 0 or records == 0:
        return
    key = f"logs:ingest-rate:{org.pk}:{int(time.time())}"
    used = cache.incr(key, records, ttl=5)
    if used > limit:
        raise common.OtlpError(429, f"Organization ingest rate over {limit} records/s; retry later.",
                               retry_after=1)


def _receive(request: HttpRequest, signal: str, request_cls: Any, convert: Callable[..., Converted],
             write: Callable[[list[Any]], int], respond: Callable[[Converted], Any]) -> HttpResponse:
    kind = common.JSON
    try:
        org = common.authenticate(request)
        kind = common.content_kind(request)
        with _gate.slot():
            body = common.read_body(request)
            msg = common.decode_request(body, kind, request_cls, signal)
            converted = convert(msg, org)
            _rate_limit(org, len(converted.records))
            try:
                write(converted.records)
            except (OperationalError, InterfaceError) as e:
                log.warning("store unavailable on %s ingest: %s", signal, e)
                raise common.OtlpError(503, "The log store is unavailable; retry later.", retry_after=5) from e
            except DatabaseError as e:
                log.exception("store rejected a %s batch", signal)
                raise common.OtlpError(503, f"The log store rejected the batch: {type(e).__name__}",
                                       retry_after=5) from e
    except common.OtlpError as e:
        return e.response(kind)
    return common.encode_response(respond(converted), kind)


@csrf_exempt
@require_POST
def receive_logs(request: HttpRequest) -> HttpResponse:
    def respond(c: Converted) -> Any:
        resp = logs_service_pb2.ExportLogsServiceResponse()
        if c.rejected:
            resp.partial_success.rejected_log_records = c.rejected
            resp.partial_success.error_message = c.message
        return resp

    return _receive(request, "logs", logs_service_pb2.ExportLogsServiceRequest, convert_logs,
                    lambda rows: get_store().write_logs(rows), respond)


@csrf_exempt
@require_POST
def receive_traces(request: HttpRequest) -> HttpResponse:
    def respond(c: Converted) -> Any:
        resp = trace_service_pb2.ExportTraceServiceResponse()
        if c.rejected:
            resp.partial_success.rejected_spans = c.rejected
            resp.partial_success.error_message = c.message
        return resp

    return _receive(request, "traces", trace_service_pb2.ExportTraceServiceRequest, convert_spans,
                    lambda rows: get_store().write_spans(rows), respond)
