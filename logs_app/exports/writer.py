"""Streaming export writers: CSV (formula-escaped) or NDJSON, optionally gzip, at constant memory.

Rows go straight from the store's server-side cursor through a small text buffer into the (compressed)
file; nothing accumulates. The file is written under a temporary name and renamed when complete so a
half-written export is never downloadable.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import shutil
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from logs_app.store.records import LogRecord

COLUMNS = ("timestamp", "level", "service", "message", "trace_id", "span_id", "correlation_id", "attributes")

# A spreadsheet runs a cell as a formula when it starts with one of these (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

# gzip level 3: ~3x faster than the default 9 for log text, and only a few percent bigger.
GZIP_LEVEL = 3
_BUFFER = 1 << 16


def escape_cell(value: str) -> str:
    """Prefix a would-be formula with a quote so spreadsheets show it as text."""
    if value and value[0] in _FORMULA_START:
        return "'" + value
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds")
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)
    return str(value)


def record_fields(record: Any) -> dict[str, Any]:
    """The exported fields of one store record (a mapping or an object with those attributes)."""
    get = record.get if isinstance(record, Mapping) else (lambda k, d=None: getattr(record, k, d))
    out = {c: get(c) for c in COLUMNS}
    if out["service"] is None:
        out["service"] = get("service_name")
    if out["message"] is None:
        out["message"] = get("body")
    if out["timestamp"] is None:
        out["timestamp"] = get("ts") or get("time")
    if out["level"] is None:
        out["level"] = get("severity") or get("severity_text")
    return out


class _AtomicFile:
    """The export file under a temporary name beside its final path (the org's directory), renamed when
    complete so that a half-written export is never downloadable."""

    def __init__(self, path: Path, fmt: str) -> None:
        if fmt not in ("csv", "ndjson"):
            raise ValueError(f"unknown export format {fmt!r}")
        self.path = path
        self.tmp = path.with_name(path.name + ".part")
        self.fmt = fmt
        self.rows = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self._raw: IO[bytes] = open(self.tmp, "wb")  # noqa: SIM115 - closed in _finish()/_discard()

    def bytes_written(self) -> int:
        """Bytes on disk so far (compressed size for gzip; a writer's text buffer is not counted)."""
        return self._raw.tell()

    def _finish(self) -> int:
        self._raw.flush()
        os.fsync(self._raw.fileno())
        self._raw.close()
        os.replace(self.tmp, self.path)
        return self.path.stat().st_size

    def _discard(self) -> None:
        try:
            self._raw.close()
        finally:
            self.tmp.unlink(missing_ok=True)


class ExportWriter(_AtomicFile):
    """Write records one by one; `close()` finishes the file atomically and returns its size."""

    def __init__(self, path: Path, fmt: str, use_gzip: bool) -> None:
        super().__init__(path, fmt)
        gz = gzip.GzipFile(fileobj=self._raw, mode="wb", compresslevel=GZIP_LEVEL, mtime=0) if use_gzip else None
        self._bin: IO[bytes] = gz if gz is not None else self._raw  # type: ignore[assignment]
        self._out = io.TextIOWrapper(self._bin, encoding="utf-8", newline="", write_through=False)  # type: ignore[type-var]
        self._out._CHUNK_SIZE = _BUFFER  # type: ignore[attr-defined]
        # CRLF (RFC 4180) as the terminator also makes the writer quote cells holding a lone CR.
        self._csv = csv.writer(self._out, lineterminator="\r\n") if fmt == "csv" else None
        if self._csv is not None:
            self._csv.writerow(COLUMNS)

    def write(self, record: Any) -> None:
        if type(record) is LogRecord:
            self._write_log(record)
            return
        fields = record_fields(record)
        if self._csv is not None:
            self._csv.writerow([escape_cell(_text(fields[c])) for c in COLUMNS])
        else:
            self._out.write(json.dumps(fields, separators=(",", ":"), default=_json_default))
            self._out.write("\n")
        self.rows += 1

    def _write_log(self, r: LogRecord) -> None:
        """The hot path for the store's own records: no intermediate dict, attributes dumped once."""
        attrs = json.dumps(r.attributes, separators=(",", ":"), sort_keys=True, default=str) if r.attributes else ""
        ts = r.time.isoformat(timespec="microseconds")
        if self._csv is not None:
            body, service = r.body, r.service
            if body and body[0] in _FORMULA_START:
                body = "'" + body
            if service and service[0] in _FORMULA_START:
                service = "'" + service
            self._csv.writerow((ts, r.level, service, body, r.trace_id, r.span_id,
                                escape_cell(r.correlation_id), escape_cell(attrs)))
        else:
            self._out.write(json.dumps(
                {"timestamp": ts, "level": r.level, "service": r.service, "message": r.body,
                 "trace_id": r.trace_id, "span_id": r.span_id, "correlation_id": r.correlation_id,
                 "attributes": r.attributes}, separators=(",", ":"), default=str))
            self._out.write("\n")
        self.rows += 1

    def write_bytes(self, data: bytes, lines: int) -> None:
        """Finished UTF-8 lines (already escaped and terminated), e.g. from the PostgreSQL fast path."""
        self._out.flush()  # the header (or earlier text) goes first
        self._bin.write(data)
        self.rows += lines

    def write_many(self, records: Iterable[Any]) -> None:
        for r in records:
            self.write(r)

    def close(self) -> int:
        self._out.flush()
        self._out.detach()
        if self._bin is not self._raw:
            self._bin.close()
        return self._finish()

    def abort(self) -> None:
        """Drop the partial file (cancel, failure)."""
        try:
            self._out.detach()
            if self._bin is not self._raw:
                self._bin.close()
        finally:
            self._discard()


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds")
    return str(value)


class PartsWriter(_AtomicFile):
    """An export assembled from parts the database engine wrote whole (each a complete gzip member, or
    plain lines): Python copies bytes, it neither formats nor compresses rows. A gzip file of several
    members is one valid gzip stream (RFC 1952 §2.2). Same interface and atomic rename as ExportWriter."""

    def __init__(self, path: Path, fmt: str, use_gzip: bool) -> None:
        super().__init__(path, fmt)
        self.use_gzip = use_gzip
        if fmt == "csv":  # the header, byte for byte as ExportWriter writes it
            header = (",".join(COLUMNS) + "\r\n").encode()
            self._raw.write(gzip.compress(header, GZIP_LEVEL, mtime=0) if use_gzip else header)

    def part_path(self, index: int) -> Path:
        """Where the engine writes part `index` (beside the export: the same org-scoped directory)."""
        return self.path.with_name(f"{self.path.name}.part{index}")

    def append_part(self, part: Path, lines: int) -> None:
        with open(part, "rb") as f:
            shutil.copyfileobj(f, self._raw, _BUFFER)
        part.unlink()
        self.rows += lines

    def close(self) -> int:
        return self._finish()

    def abort(self) -> None:
        try:
            self._discard()
        finally:
            for stray in self.path.parent.glob(self.path.name + ".part*"):
                stray.unlink(missing_ok=True)
