"""The log and trace store interface: every reader and writer of logs/traces goes through `LogStore`.

`logs_app.store.get_store()` returns the configured implementation (`LOGS_STORE` setting):

- `PostgresLogStore` (production): daily range partitions, COPY batches, pg_trgm on the body;
  retention drops whole partitions.
- `SQLiteLogStore` (embedded default): the same tables in the Django SQLite database; retention
  deletes in batches.

A Loki or Tempo adapter implements the same class: it receives the parsed query (`logs_app.query.ast`)
through `query`, and turns it into LogQL / TraceQL itself.

Contract every implementation keeps (the tests in tests/logs/ check it for both built-in stores):

* **Tenancy**: every read takes `org` (an `Organization`) and returns only that org's records; a record
  id, trace id or cursor of another org behaves exactly as a missing one (None / empty). Writes carry
  `org_id` on each record, set by the receiver from the ingest token, never from the payload.
* **Queries** are search-language strings (docs/logs.md) or their parsed form
  (`logs_app.query.ast.Node`). An invalid one raises
  `logs_app.query.errors.QueryError` (with a position). `org=` terms are not accepted here: the
  service layer resolves them (staff only) before calling the store.
* **Time ranges** are half open, `start <= time < end`, timezone-aware datetimes.
* **Cursors** are opaque strings; a foreign or broken one raises `records.CursorError`.
* **Order**: `search` newest first; `tail`, `iter_records`, `context`, trace logs oldest first.
"""

from __future__ import annotations

import abc
from collections.abc import Generator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from logs_app.query.ast import Node
from logs_app.store.records import (
    HistogramBucket,
    LogContext,
    LogPage,
    LogRecord,
    SpanRecord,
    Trace,
    TraceSummary,
)

if TYPE_CHECKING:
    from logs_app.store.service_stats import ServiceStats
    from portal.tenancy.models import Organization


class LogStore(abc.ABC):
    """Write batches, search, histogram, count, traces, context, tail, export iteration, retention."""

    name: str = "abstract"

    # -- writes ------------------------------------------------------------------------------------

    @abc.abstractmethod
    def write_logs(self, batch: Sequence[LogRecord]) -> int:
        """Store a batch (all or nothing) and return how many records were written."""

    @abc.abstractmethod
    def write_spans(self, batch: Sequence[SpanRecord]) -> int:
        """Store a batch of spans (all or nothing) and return how many were written."""

    # -- log reads ---------------------------------------------------------------------------------

    @abc.abstractmethod
    def search(self, org: Organization, query: str | Node, start: datetime, end: datetime,
               limit: int = 100, cursor: str | None = None) -> LogPage:
        """Matching records newest first, at most `limit`; `next_cursor` fetches the next (older) page."""

    @abc.abstractmethod
    def histogram(self, org: Organization, query: str | Node, start: datetime, end: datetime,
                  buckets: int = 60) -> list[HistogramBucket]:
        """Counts of matching records in `buckets` equal slices of [start, end), by level; every
        slice is present (zero counts included), oldest first."""

    @abc.abstractmethod
    def count(self, org: Organization, query: str | Node, start: datetime, end: datetime) -> int:
        """How many records match."""

    @abc.abstractmethod
    def context(self, org: Organization, record_id: str, before: int = 10,
                after: int = 10) -> LogContext | None:
        """The record and up to `before`/`after` records of the same service around it (no query
        filter); None when the id is unknown or belongs to another org."""

    @abc.abstractmethod
    def tail(self, org: Organization, query: str | Node, since_cursor: str | None = None,
             limit: int = 500) -> LogPage:
        """Records that arrived after `since_cursor` (None: start from now, returning nothing),
        oldest first. Always returns a cursor to poll with next."""

    @abc.abstractmethod
    def iter_records(self, org: Organization, query: str | Node, start: datetime, end: datetime,
                     batch_size: int = 2000) -> Generator[LogRecord, None, None]:
        """Every matching record, oldest first, at constant memory (server-side cursor on PostgreSQL).
        Meant for exports: the caller must exhaust or close the iterator."""

    # -- traces ------------------------------------------------------------------------------------

    @abc.abstractmethod
    def iter_spans(self, org: Organization, query: str | Node, start: datetime, end: datetime,
                   batch_size: int = 2000) -> Generator[SpanRecord, None, None]:
        """Every span starting in [start, end) that matches `query`, oldest first, at constant memory.
        Meant for performance analysis over a window: the caller must exhaust or close the iterator."""

    @abc.abstractmethod
    def get_trace(self, org: Organization, trace_id: str) -> Trace | None:
        """All spans (and log records) of one trace; None when unknown or another org's."""

    @abc.abstractmethod
    def search_traces(self, org: Organization, query: str | Node, start: datetime, end: datetime,
                      limit: int = 50) -> list[TraceSummary]:
        """Traces having at least one span matching `query` (fields: service, name, status, kind,
        trace_id, duration/numeric span attributes; bare words match the span name), newest first."""

    # -- retention ---------------------------------------------------------------------------------

    @abc.abstractmethod
    def delete_older_than(self, org: Organization, cutoff: datetime) -> int:
        """Delete one org's logs and spans older than `cutoff`; returns rows deleted (an estimate is
        allowed where partitions are dropped)."""

    @abc.abstractmethod
    def drop_partitions_before(self, cutoff: datetime) -> list[str]:
        """Drop whole time partitions ending at or before `cutoff` (all orgs; used with the largest
        retention any org has). Stores without partitions return []."""

    # -- aggregates --------------------------------------------------------------------------------

    def service_stats(self) -> ServiceStats:
        """Per-service aggregates computed by the engine (service_stats.py); an adapter may override."""
        from logs_app.store.service_stats import stats_for

        return stats_for(self)
