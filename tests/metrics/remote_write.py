"""A minimal Prometheus remote-write 1.0 encoder for tests and the bench (hand-rolled protobuf, so the
tests do not depend on the code they might be checking)."""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

import cramjam
import httpx

Series = tuple[dict[str, str], Sequence[tuple[int, float]]]  # labels, [(timestamp ms, value)]


def _varint(n: int) -> bytes:
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _bytes_field(num: int, payload: bytes) -> bytes:
    return _varint(num << 3 | 2) + _varint(len(payload)) + payload


def _label(name: str, value: str) -> bytes:
    return _bytes_field(1, name.encode()) + _bytes_field(2, value.encode())


def _sample(ts_ms: int, value: float) -> bytes:
    return _varint(1 << 3 | 1) + struct.pack("<d", value) + _varint(2 << 3 | 0) + _varint(ts_ms)


def encode(series: Iterable[Series]) -> bytes:
    body = bytearray()
    for labels, samples in series:
        ts = b"".join(_bytes_field(1, _label(k, v)) for k, v in sorted(labels.items()))
        ts += b"".join(_bytes_field(2, _sample(t, v)) for t, v in samples)
        body += _bytes_field(1, ts)
    return bytes(cramjam.snappy.compress_raw(bytes(body)))


def push(url: str, series: Iterable[Series], headers: dict[str, str] | None = None) -> None:
    resp = httpx.post(url, content=encode(series), timeout=30.0, headers={
        "Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
        "X-Prometheus-Remote-Write-Version": "0.1.0", **(headers or {}),
    })
    if resp.status_code >= 300:
        raise RuntimeError(f"remote write to {url} failed: {resp.status_code} {resp.text[:300]}")
