"""The plain records the store reads and writes: one log record, one span, and what searches return.

They are dataclasses, not Django models, so that a store adapter (PostgreSQL, SQLite, Loki, Tempo) owns
its own layout. Times are timezone-aware UTC datetimes; ids are lowercase hex ("" when absent).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

LEVELS = ("trace", "debug", "info", "warn", "error", "fatal")


@dataclass(slots=True)
class LogRecord:
    """One log record as stored. `org_id` is always set by the receiver from the ingest token."""

    org_id: int
    time: datetime
    body: str
    service: str = ""
    level: str = "info"  # one of LEVELS (normalised from the OTLP severity)
    severity_number: int = 0
    trace_id: str = ""
    span_id: str = ""
    correlation_id: str = ""
    user_id: str = ""
    resource: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    id: str = ""  # set by the store: an opaque record id usable with `context()`


@dataclass
class SpanEvent:
    time: datetime
    name: str
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class SpanRecord:
    org_id: int
    trace_id: str
    span_id: str
    name: str
    start: datetime
    end: datetime
    service: str = ""
    parent_span_id: str = ""
    kind: str = "internal"  # internal, server, client, producer, consumer
    status: str = "unset"  # unset, ok, error
    status_message: str = ""
    resource: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[SpanEvent] = field(default_factory=list)

    @property
    def duration_ms(self) -> float:
        return (self.end - self.start).total_seconds() * 1000.0


@dataclass
class LogPage:
    """One page of records, newest first for `search`, oldest first for `tail`.

    `next_cursor` is opaque; pass it back unchanged. None means there is nothing more (for `tail`: the
    cursor to poll with is always set, it only advances when records arrive)."""

    records: list[LogRecord]
    next_cursor: str | None


@dataclass
class HistogramBucket:
    start: datetime
    count: int
    by_level: dict[str, int] = field(default_factory=dict)


@dataclass
class TraceSummary:
    trace_id: str
    root_service: str
    root_name: str
    start: datetime
    duration_ms: float
    span_count: int
    error_count: int


@dataclass
class Trace:
    trace_id: str
    spans: list[SpanRecord]  # ordered by start time
    logs: list[LogRecord]  # the trace's log records, oldest first


@dataclass
class LogContext:
    """The records around one record, in time order (before + [record] + after)."""

    record: LogRecord
    before: list[LogRecord]
    after: list[LogRecord]


class CursorError(ValueError):
    """A cursor that this store did not hand out (or that was tampered with)."""


class ForeignCursorError(CursorError):
    """A well-formed cursor of another organization: callers answer it like any other org's object (404)."""


def encode_cursor(**values: Any) -> str:
    raw = json.dumps(values, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *keys: str) -> dict[str, Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as e:
        raise CursorError("Invalid cursor.") from e
    if not isinstance(data, dict) or any(k not in data for k in keys):
        raise CursorError("Invalid cursor.")
    return data


def to_us(t: datetime) -> int:
    """Microseconds since the epoch: the one integer time both SQL stores and cursors use."""
    return (t - _EPOCH) // _ONE_US


def from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
