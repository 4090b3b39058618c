"""OTLP/HTTP plumbing shared by every OTLP receiver (/otlp/v1/logs, /traces, and /metrics in metrics_in_app).

The whole API, in the order a receiver uses it:

    try:
        org = authenticate(request)                                 # 401 OtlpError on a bad/absent token
        kind = content_kind(request)                                # "protobuf" | "json", else 415
        body = read_body(request)                                   # gzip/deflate, 413 over the limit
        msg = decode_request(body, kind, ExportLogsServiceRequest, "logs")   # 400 on a malformed body
    except OtlpError as e:
        return e.response(kind_or_default)
    ...
    return encode_response(ExportLogsServiceResponse(partial_success=...), kind)

Errors follow the OTLP/HTTP spec: the body is a `google.rpc.Status` in the request's encoding; 429 and
503 carry `Retry-After` (the SDK exporters retry those, and only those plus 502/504).
"""

from __future__ import annotations

import base64
import gzip
import re
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from google.protobuf import json_format, message

from logs_app.otlp.lenient import lenient_class
from portal.tenancy.auth import TokenError, authenticate_ingest
from portal.tenancy.models import Organization

PROTOBUF = "protobuf"
JSON = "json"
CONTENT_TYPES = {PROTOBUF: "application/x-protobuf", JSON: "application/json"}
# OTLP/JSON encodes these bytes fields as hex, where proto3 JSON would use base64.
_HEX_ID_KEYS = frozenset({"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"})
_SURROGATE = re.compile("[\ud800-\udfff]")
_GRPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 413: 11, 415: 3, 429: 8, 500: 13, 502: 14, 503: 14}


class OtlpError(Exception):
    """An OTLP/HTTP error answer: status, message, and Retry-After for 429/503."""

    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after

    def response(self, kind: str = JSON) -> HttpResponse:
        return error_response(self.status, self.message, kind, self.retry_after)


def authenticate(request: HttpRequest) -> Organization:
    """The org of the request's ingest token (`Authorization: Bearer pi_…`); never from the payload."""
    try:
        return authenticate_ingest(request)
    except TokenError as e:
        raise OtlpError(401, e.message) from e


def content_kind(request: HttpRequest) -> str:
    """"protobuf" or "json" from Content-Type; anything else is 415."""
    ctype = (request.content_type or "").split(";")[0].strip().lower()
    if ctype in ("application/x-protobuf", "application/protobuf"):
        return PROTOBUF
    if ctype == "application/json":
        return JSON
    raise OtlpError(415, f"Unsupported Content-Type {ctype or '(none)'!r}: send application/x-protobuf "
                         "or application/json.")


def max_body_bytes() -> int:
    return int(getattr(settings, "INGEST_MAX_BODY_BYTES", 8 * 1024 * 1024))


def read_body(request: HttpRequest, limit: int | None = None) -> bytes:
    """The request body, decompressed (gzip, deflate), at most `limit` bytes before and after
    decompression (413 otherwise: a small gzip bomb cannot blow up memory)."""
    limit = limit or max_body_bytes()
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if declared.isdigit() and int(declared) > limit:
        raise OtlpError(413, f"Request body larger than {limit} bytes; send smaller batches.")
    raw = request.read(limit + 1)
    if len(raw) > limit:
        raise OtlpError(413, f"Request body larger than {limit} bytes; send smaller batches.")
    encoding = request.META.get("HTTP_CONTENT_ENCODING", "").strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise OtlpError(415, f"Unsupported Content-Encoding {encoding!r}: use gzip or none.")
    wbits = 16 + zlib.MAX_WBITS if encoding != "deflate" else zlib.MAX_WBITS
    try:
        d = zlib.decompressobj(wbits)
        out = d.decompress(raw, limit + 1)
        if len(out) > limit or d.unconsumed_tail:
            raise OtlpError(413, f"Decompressed body larger than {limit} bytes; send smaller batches.")
        if not d.eof:
            raise OtlpError(400, f"Truncated {encoding} body.")
        return out
    except (zlib.error, gzip.BadGzipFile) as e:
        raise OtlpError(400, f"Body is not valid {encoding}: {e}") from e


def decode_request(body: bytes, kind: str, message_cls: type[message.Message], signal: str) -> Any:
    """Parse an export request. Protobuf with invalid UTF-8 in a string falls back to the lenient twin
    (strings arrive as bytes; decode them with `text()`), so one bad record does not lose the batch."""
    if kind == PROTOBUF:
        try:
            return message_cls.FromString(body)
        except message.DecodeError as strict_error:
            try:
                return lenient_class(signal).FromString(body)
            except message.DecodeError:
                raise OtlpError(400, f"Malformed protobuf body: {strict_error}") from strict_error
    try:
        import json

        data = json.loads(body.decode("utf-8", errors="replace"))
    except ValueError as e:
        raise OtlpError(400, f"Malformed JSON body: {e}") from e
    if not isinstance(data, dict):
        raise OtlpError(400, "The JSON body must be an object.")
    try:
        return json_format.ParseDict(_hex_ids_to_base64(data), message_cls(), ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, RecursionError) as e:
        raise OtlpError(400, f"Malformed OTLP/JSON body: {e}") from e


def _hex_ids_to_base64(value: Any, depth: int = 0) -> Any:
    if depth > 64:
        raise OtlpError(400, "OTLP/JSON body nested too deeply.")
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in _HEX_ID_KEYS and isinstance(v, str):
                try:
                    out[k] = base64.b64encode(bytes.fromhex(v)).decode()
                except ValueError as e:
                    raise OtlpError(400, f"{k} {v[:40]!r} is not hex") from e
            else:
                out[k] = _hex_ids_to_base64(v, depth + 1)
        return out
    if isinstance(value, list):
        return [_hex_ids_to_base64(v, depth + 1) for v in value]
    if isinstance(value, str) and _SURROGATE.search(value):
        # JSON may escape lone surrogates ("\ud800"), which protobuf strings refuse: the whole batch would
        # fail for one record. Replace them with U+FFFD, as invalid UTF-8 is in protobuf bodies.
        return _SURROGATE.sub("\ufffd", value)
    return value


def text(value: str | bytes) -> str:
    """A string field as text: bytes (lenient parse) decoded with replacement; NULs removed because
    PostgreSQL text and jsonb cannot hold them."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


def encode_response(msg: message.Message, kind: str) -> HttpResponse:
    """A 200 answer in the request's encoding (an empty partial_success is omitted, as the spec wants)."""
    if kind == PROTOBUF:
        return HttpResponse(msg.SerializeToString(), content_type=CONTENT_TYPES[PROTOBUF])
    return HttpResponse(json_format.MessageToJson(msg, indent=None), content_type=CONTENT_TYPES[JSON])


def _status_bytes(code: int, msg: str) -> bytes:
    """google.rpc.Status{code=1, message=2} encoded by hand (avoids a dependency for two fields)."""
    text_bytes = msg.encode()
    return b"\x08" + _varint(code) + b"\x12" + _varint(len(text_bytes)) + text_bytes


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def error_response(status: int, msg: str, kind: str = JSON, retry_after: int | None = None) -> HttpResponse:
    code = _GRPC_CODES.get(status, 2)
    if kind == PROTOBUF:
        resp = HttpResponse(_status_bytes(code, msg), status=status, content_type=CONTENT_TYPES[PROTOBUF])
    else:
        import json

        resp = HttpResponse(json.dumps({"code": code, "message": msg}), status=status,
                            content_type=CONTENT_TYPES[JSON])
    if retry_after is not None:
        resp["Retry-After"] = str(retry_after)
    if status == 401:
        resp["WWW-Authenticate"] = 'Bearer realm="otlp"'
    return resp


class ConcurrencyGate:
    """At most N requests of one receiver decoding/writing at once in this process; the rest get 503 +
    Retry-After at once instead of queueing (the SDK retries with backoff, and memory stays bounded)."""

    def __init__(self, setting: str, default: int) -> None:
        self.setting = setting
        self.default = default
        self._lock = threading.Lock()
        self._active = 0

    @contextmanager
    def slot(self) -> Iterator[None]:
        limit = int(getattr(settings, self.setting, self.default))
        with self._lock:
            if limit > 0 and self._active >= limit:
                raise OtlpError(503, "The receiver is overloaded; retry later.", retry_after=1)
            self._active += 1
        try:
            yield
        finally:
            with self._lock:
                self._active -= 1
