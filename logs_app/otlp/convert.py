"""OTLP messages → store records: fields, limits, and what is rejected (documented in docs/logs.md).

Nothing of a batch is lost for one bad record: a record that cannot be stored is counted as rejected
(reported through OTLP partial success) and the rest are kept. What is fixed rather than rejected:

- absent time (0): observed time, else receive time;
- absurd time (older than LOGS_MAX_RETENTION_DAYS, or more than a day ahead): receive time, original kept
  in attribute `portal.original_time_unix_nano`;
- body over LOGS_MAX_BODY_CHARS, attribute strings over LOGS_MAX_ATTRIBUTE_CHARS, more than
  LOGS_MAX_ATTRIBUTES attributes: truncated / dropped, marked in `portal.truncated`;
- invalid UTF-8: replaced by U+FFFD; NUL characters: U+FFFD; malformed trace/span ids on a log: dropped.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings

from logs_app.otlp.common import text
from logs_app.query.sql import normalise_level
from logs_app.store.records import LEVELS, LogRecord, SpanEvent, SpanRecord
from portal.tenancy.models import Organization

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SPAN_KINDS = {0: "internal", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
_STATUS = {0: "unset", 1: "ok", 2: "error"}
MAX_NESTING = 8


def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


@dataclass
class Limits:
    max_body: int = field(default_factory=lambda: int(_setting("LOGS_MAX_BODY_CHARS", 65536)))
    max_attr_value: int = field(default_factory=lambda: int(_setting("LOGS_MAX_ATTRIBUTE_CHARS", 4096)))
    max_attrs: int = field(default_factory=lambda: int(_setting("LOGS_MAX_ATTRIBUTES", 128)))
    max_age_days: int = field(default_factory=lambda: int(_setting("LOGS_MAX_RETENTION_DAYS", 90)))
    correlation_keys: tuple[str, ...] = field(default_factory=lambda: tuple(_setting(
        "LOGS_CORRELATION_ATTRIBUTES", ["correlation_id", "request_id", "correlation.id", "x_request_id"])))
    user_keys: tuple[str, ...] = field(default_factory=lambda: tuple(_setting(
        "LOGS_USER_ATTRIBUTES", ["user_id", "user.id", "enduser.id"])))


@dataclass
class Converted:
    records: list[Any]
    rejected: int = 0
    errors: list[str] = field(default_factory=list)

    def reject(self, why: str) -> None:
        self.rejected += 1
        if len(self.errors) < 5:
            self.errors.append(why)

    @property
    def message(self) -> str:
        return "; ".join(self.errors)


def any_value(v: Any, limits: Limits, depth: int = 0) -> Any:
    """AnyValue → JSON-able Python value, strings truncated, nesting bounded."""
    kind = v.WhichOneof("value")
    if kind == "string_value":
        s = text(v.string_value)
        return s if len(s) <= limits.max_attr_value else s[: limits.max_attr_value]
    if kind == "int_value":
        return int(v.int_value)
    if kind == "double_value":
        d = float(v.double_value)
        return d if d == d and d not in (float("inf"), float("-inf")) else str(d)
    if kind == "bool_value":
        return bool(v.bool_value)
    if kind == "bytes_value":
        return bytes(v.bytes_value[: limits.max_attr_value // 2]).hex()
    if depth >= MAX_NESTING:
        return "(nested too deeply)"
    if kind == "array_value":
        return [any_value(x, limits, depth + 1) for x in v.array_value.values[: limits.max_attrs]]
    if kind == "kvlist_value":
        return {text(kv.key): any_value(kv.value, limits, depth + 1)
                for kv in v.kvlist_value.values[: limits.max_attrs]}
    return None


def attributes(kvs: Any, limits: Limits, truncated: list[str]) -> dict[str, Any]:
    """KeyValue list → dict. The common cases (string, int) are inlined: this runs per record."""
    out: dict[str, Any] = {}
    max_value = limits.max_attr_value
    if len(kvs) > limits.max_attrs:
        truncated.append("attributes")
        kvs = kvs[: limits.max_attrs]
    for kv in kvs:
        key = kv.key
        if type(key) is not str or "\x00" in key:
            key = text(key)
        if len(key) > 256:
            key = key[:256]
        v = kv.value
        kind = v.WhichOneof("value")
        if kind == "string_value":
            sv = v.string_value
            if type(sv) is not str or "\x00" in sv:
                sv = text(sv)
            if len(sv) > max_value:
                sv = sv[:max_value]
                truncated.append(f"attribute:{key[:64]}")
            out[key] = sv
        elif kind == "int_value":
            out[key] = v.int_value
        else:
            out[key] = any_value(v, limits)
    return out


def _hex_id(raw: bytes, size: int) -> str:
    if len(raw) != size or not any(raw):
        return ""
    return bytes(raw).hex()


def _time(nanos: int, observed: int, now_ns: int, limits: Limits, attrs: dict[str, Any]) -> datetime:
    ns = nanos or observed or now_ns
    oldest = now_ns - limits.max_age_days * 86_400 * 1_000_000_000
    newest = now_ns + 86_400 * 1_000_000_000
    if not oldest <= ns <= newest:
        attrs["portal.original_time_unix_nano"] = str(ns)
        ns = observed if observed and oldest <= observed <= newest else now_ns
    return _EPOCH + timedelta(microseconds=ns // 1000)


def _level(severity_number: int, severity_text: str) -> str:
    if 1 <= severity_number <= 24:
        return LEVELS[(severity_number - 1) // 4]
    level = normalise_level(severity_text)
    return level if level in LEVELS else "info"


def _first(keys: tuple[str, ...], *sources: dict[str, Any]) -> str:
    for src in sources:
        for k in keys:
            v = src.get(k)
            if v is not None and v != "":
                return str(v)[:256]
    return ""


def _resource(resource: Any, org: Organization, limits: Limits) -> tuple[dict[str, Any], str]:
    truncated: list[str] = []
    res = attributes(resource.attributes, limits, truncated)
    # A sender's claim about its org is never trusted: the stored label is the token's org.
    if org.label_name in res:
        res[org.label_name] = org.label_value
    service = str(res.get("service.name") or "unknown_service")[:200]
    return res, service


def convert_logs(request: Any, org: Organization, limits: Limits | None = None) -> Converted:
    limits = limits or Limits()
    out = Converted([])
    append = out.records.append
    window = _TimeWindow(time.time_ns(), limits)
    for rl in request.resource_logs:
        res, service = _resource(rl.resource, org, limits)
        for sl in rl.scope_logs:
            scope = text(sl.scope.name) if sl.HasField("scope") else ""
            for lr in sl.log_records:
                try:
                    append(_log(lr, org.pk, res, service, scope, window, limits))
                except (ValueError, TypeError, OverflowError, RecursionError) as e:
                    out.reject(f"log record rejected: {e}")
    return out


class _TimeWindow:
    """The batch's accepted time range, computed once per request rather than per record."""

    __slots__ = ("now_ns", "oldest", "newest")

    def __init__(self, now_ns: int, limits: Limits) -> None:
        self.now_ns = now_ns
        self.oldest = now_ns - limits.max_age_days * 86_400 * 1_000_000_000
        self.newest = now_ns + 86_400 * 1_000_000_000


_NO_TRACE = bytes(16)
_NO_SPAN = bytes(8)


def _log(lr: Any, org_id: int, res: dict[str, Any], service: str, scope: str, window: _TimeWindow,
         limits: Limits) -> LogRecord:
    # Hot path: once per ingested record. Each protobuf field is read once (a read builds a Python object).
    truncated: list[str] = []
    attrs = attributes(lr.attributes, limits, truncated)
    ns = lr.time_unix_nano
    if not window.oldest <= ns <= window.newest:
        when = _time(ns, lr.observed_time_unix_nano, window.now_ns, limits, attrs)
    else:
        when = _EPOCH + timedelta(microseconds=ns // 1000)
    body_msg = lr.body
    body_kind = body_msg.WhichOneof("value")
    if body_kind == "string_value":
        body = body_msg.string_value  # the body gets its own, larger limit
        if type(body) is not str or "\x00" in body:
            body = text(body)
    elif body_kind is None:
        body = ""
    else:
        value = any_value(body_msg, limits)
        body = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if len(body) > limits.max_body:
        body = body[: limits.max_body]
        truncated.append("body")
    if scope:
        attrs.setdefault("otel.scope.name", scope)
    if truncated:
        attrs["portal.truncated"] = ",".join(truncated)
    severity = lr.severity_number
    level = LEVELS[(severity - 1) // 4] if 1 <= severity <= 24 else _level(0, text(lr.severity_text))
    trace_id = lr.trace_id
    span_id = lr.span_id
    return LogRecord(
        org_id, when, body, service, level, severity,
        trace_id.hex() if len(trace_id) == 16 and trace_id != _NO_TRACE else "",
        span_id.hex() if len(span_id) == 8 and span_id != _NO_SPAN else "",
        _first(limits.correlation_keys, attrs, res), _first(limits.user_keys, attrs, res), res, attrs,
    )


def convert_spans(request: Any, org: Organization, limits: Limits | None = None) -> Converted:
    limits = limits or Limits()
    out = Converted([])
    now_ns = time.time_ns()
    for rs in request.resource_spans:
        res, service = _resource(rs.resource, org, limits)
        for ss in rs.scope_spans:
            for sp in ss.spans:
                trace_id, span_id = _hex_id(sp.trace_id, 16), _hex_id(sp.span_id, 8)
                if not trace_id or not span_id:
                    out.reject("span rejected: trace_id must be 16 bytes and span_id 8 bytes, not all zero")
                    continue
                try:
                    out.records.append(_span(sp, org, res, service, trace_id, span_id, now_ns, limits))
                except (ValueError, TypeError, OverflowError, RecursionError) as e:
                    out.reject(f"span rejected: {e}")
    return out


def _span(sp: Any, org: Organization, res: dict[str, Any], service: str, trace_id: str, span_id: str,
          now_ns: int, limits: Limits) -> SpanRecord:
    truncated: list[str] = []
    attrs = attributes(sp.attributes, limits, truncated)
    start = _time(sp.start_time_unix_nano, 0, now_ns, limits, attrs)
    end_ns = sp.end_time_unix_nano
    duration_ns = max(0, end_ns - sp.start_time_unix_nano) if end_ns else 0
    end = start + timedelta(microseconds=duration_ns // 1000)
    events = [SpanEvent(_time(e.time_unix_nano, 0, now_ns, limits, {}), text(e.name)[:256],
                        attributes(e.attributes, limits, truncated)) for e in sp.events[: limits.max_attrs]]
    if truncated:
        attrs["portal.truncated"] = ",".join(truncated)
    return SpanRecord(
        org_id=org.pk, trace_id=trace_id, span_id=span_id, parent_span_id=_hex_id(sp.parent_span_id, 8),
        name=text(sp.name)[:1024], start=start, end=end, service=service,
        kind=_SPAN_KINDS.get(int(sp.kind), "internal"), status=_STATUS.get(int(sp.status.code), "unset"),
        status_message=text(sp.status.message)[: limits.max_attr_value], resource=res, attributes=attrs,
        events=events,
    )
