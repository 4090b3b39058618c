"""Reading a remote-write body: size limit (413), snappy, decompression bombs.

(OTLP bodies are read by the shared OTLP plumbing in logs_app.otlp.common.) The limit applies to the
body as sent and, separately, to the length the snappy block announces, checked before decompressing.
"""

from __future__ import annotations

import cramjam
from django.conf import settings
from django.http import HttpRequest

from metrics_in_app.remote_pb import snappy_length
from portal.errors import ServiceError

DECOMPRESSED_FACTOR = 4  # decompressed bodies may be this many times INGEST_MAX_BODY_BYTES


def too_large(limit: int) -> ServiceError:
    return ServiceError(413, "body_too_large", f"The request body is larger than the limit of {limit} bytes.",
                        {"limit_bytes": limit})


def read_raw(request: HttpRequest) -> bytes:
    limit = settings.INGEST_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise too_large(limit)
    # request.read() bypasses DATA_UPLOAD_MAX_MEMORY_SIZE; this receiver has its own limit.
    data = request.read(limit + 1)
    if len(data) > limit:
        raise too_large(limit)
    return data


def unsnappy(data: bytes) -> bytes:
    limit = settings.INGEST_MAX_BODY_BYTES * DECOMPRESSED_FACTOR
    try:
        announced = snappy_length(data)
    except ValueError as e:
        raise ServiceError(400, "parse_error", "The body is not snappy-compressed (block format).") from e
    if announced > limit:
        raise too_large(limit)
    try:
        return bytes(cramjam.snappy.decompress_raw(data))
    except cramjam.DecompressionError as e:
        raise ServiceError(400, "parse_error", f"The body is not valid snappy (block format): {e}.") from e


def read_remote_write(request: HttpRequest) -> bytes:
    """A remote-write 1.0 body: always snappy (block format), whatever Content-Encoding says."""
    encoding = (request.META.get("HTTP_CONTENT_ENCODING") or "snappy").strip().lower()
    if encoding != "snappy":
        raise ServiceError(415, "unsupported_encoding",
                           f"Content-Encoding {encoding!r}: remote write 1.0 bodies are snappy-compressed.")
    return unsnappy(read_raw(request))
