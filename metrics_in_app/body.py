"""Reading an ingest request body: size limit (413), Content-Encoding (gzip, snappy), decompression bombs.

The limit applies to the body as sent and, separately, to what it decompresses to, so a small gzip
bomb cannot make the receiver allocate gigabytes.
"""

from __future__ import annotations

import zlib

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


def gunzip(data: bytes) -> bytes:
    limit = settings.INGEST_MAX_BODY_BYTES * DECOMPRESSED_FACTOR
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(data, limit + 1)
    except zlib.error as e:
        raise ServiceError(400, "bad_encoding", f"The body is not valid gzip: {e}.") from e
    if len(out) > limit or d.unconsumed_tail:
        raise too_large(limit)
    return out


def unsnappy(data: bytes) -> bytes:
    limit = settings.INGEST_MAX_BODY_BYTES * DECOMPRESSED_FACTOR
    try:
        announced = snappy_length(data)
    except ValueError as e:
        raise ServiceError(400, "bad_encoding", "The body is not snappy-compressed (block format).") from e
    if announced > limit:
        raise too_large(limit)
    try:
        return bytes(cramjam.snappy.decompress_raw(data))
    except cramjam.DecompressionError as e:
        raise ServiceError(400, "bad_encoding", f"The body is not valid snappy (block format): {e}.") from e


def read_body(request: HttpRequest, *, default_encoding: str = "") -> bytes:
    data = read_raw(request)
    encoding = (request.META.get("HTTP_CONTENT_ENCODING") or default_encoding).strip().lower()
    if encoding in ("", "identity"):
        return data
    if encoding == "gzip":
        return gunzip(data)
    if encoding == "snappy":
        return unsnappy(data)
    raise ServiceError(415, "unsupported_encoding",
                       f"Content-Encoding {encoding!r} is not supported (use gzip, snappy or none).")
