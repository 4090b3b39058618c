"""The one JSON shape of a log record and of a span, for every answer that carries them: search, trace
detail, context, live tail (polling and server-sent events). Export files have their own columns
(logs_app/exports/writer.py) because CSV and NDJSON exports share them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from logs_app.store.records import LogRecord, SpanRecord


def iso(t: datetime) -> str:
    """RFC 3339 with `Z`: the store's times are UTC."""
    return t.isoformat().replace("+00:00", "Z")


def log_json(r: LogRecord) -> dict[str, Any]:
    return {
        "id": r.id, "time": iso(r.time), "service": r.service, "level": r.level,
        "severity_number": r.severity_number, "body": r.body, "trace_id": r.trace_id, "span_id": r.span_id,
        "correlation_id": r.correlation_id, "user_id": r.user_id, "resource": r.resource,
        "attributes": r.attributes,
    }


def span_json(s: SpanRecord) -> dict[str, Any]:
    return {
        "trace_id": s.trace_id, "span_id": s.span_id, "parent_span_id": s.parent_span_id, "name": s.name,
        "service": s.service, "kind": s.kind, "status": s.status, "status_message": s.status_message,
        "start": iso(s.start), "end": iso(s.end), "duration_ms": s.duration_ms, "resource": s.resource,
        "attributes": s.attributes,
        "events": [{"time": iso(e.time), "name": e.name, "attributes": e.attributes} for e in s.events],
    }
