# ruff: noqa: S608 - SQL is assembled from constant table/column names and compiled query fragments whose
# values are all bound parameters (logs_app/query/sql.py); nothing user-supplied is interpolated.
"""What the PostgreSQL and SQLite stores share: the tables, the query shapes, row ↔ record mapping.

Both keep time as integer microseconds since the epoch (`time_us`, `start_us`): the same arithmetic for
cursors, histograms and partitions on both engines. Record ids are "<time_us>.<row id>" so that
`context()` prunes to one partition on PostgreSQL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Generator, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson
from django.db import DatabaseError, connection, transaction

from logs_app.query.ast import Node
from logs_app.query.errors import QueryError
from logs_app.query.parser import parse
from logs_app.query.sql import Compiler, Dialect
from logs_app.store.base import LogStore
from logs_app.store.budget import budget_seconds
from logs_app.store.records import (
    LEVELS,
    ForeignCursorError,
    HistogramBucket,
    LogContext,
    LogPage,
    LogRecord,
    SpanEvent,
    SpanRecord,
    Trace,
    TraceSummary,
    decode_cursor,
    encode_cursor,
    from_us,
    to_us,
)

if TYPE_CHECKING:
    from portal.tenancy.models import Organization

LOG_TABLE = "logs_record"
SPAN_TABLE = "logs_span"
LOG_COLUMNS = ("org_id", "time_us", "service", "level", "severity_number", "body", "trace_id", "span_id",
               "correlation_id", "user_id", "resource", "attributes")
SPAN_COLUMNS = ("org_id", "trace_id", "span_id", "parent_span_id", "name", "service", "kind", "status",
                "status_message", "start_us", "end_us", "duration_ms", "resource", "attributes", "events")
_LOG_SELECT = "id, " + ", ".join(LOG_COLUMNS)
_SPAN_SELECT = ", ".join(SPAN_COLUMNS)
_HEX_ID = re.compile(r"^[0-9a-f]{1,32}\Z")
TAIL_WINDOW_US = 3600 * 1_000_000  # tail looks at records timestamped in the last hour


class SQLLogStore(LogStore):
    dialect: Dialect

    # -- hooks -------------------------------------------------------------------------------------

    def _insert(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        raise NotImplementedError

    def _json_out(self, value: Any) -> dict[str, Any] | list[Any]:
        if isinstance(value, (dict, list)):
            return value
        loaded = json.loads(value or "{}")
        return loaded if isinstance(loaded, (dict, list)) else {}

    def _server_cursor(self) -> Any:
        return connection.cursor()

    # -- writes ------------------------------------------------------------------------------------

    def write_logs(self, batch: Sequence[LogRecord]) -> int:
        if not batch:
            return 0
        rows = [(r.org_id, to_us(r.time), r.service, r.level, r.severity_number, r.body, r.trace_id,
                 r.span_id, r.correlation_id, r.user_id, _dumps(r.resource), _dumps(r.attributes))
                for r in batch]
        with transaction.atomic():
            self._insert(LOG_TABLE, LOG_COLUMNS, rows)
        return len(rows)

    def write_spans(self, batch: Sequence[SpanRecord]) -> int:
        if not batch:
            return 0
        rows = []
        for s in batch:
            start, end = to_us(s.start), to_us(s.end)
            events = [{"time_us": to_us(e.time), "name": e.name, "attributes": e.attributes} for e in s.events]
            rows.append((s.org_id, s.trace_id, s.span_id, s.parent_span_id, s.name, s.service, s.kind, s.status,
                         s.status_message, start, end, max(0.0, (end - start) / 1000.0), _dumps(s.resource),
                         _dumps(s.attributes), json.dumps(events, ensure_ascii=False)))
        with transaction.atomic():
            self._insert(SPAN_TABLE, SPAN_COLUMNS, rows)
        return len(rows)

    # -- helpers -----------------------------------------------------------------------------------

    def _where(self, query: str | Node, target: str = "logs") -> tuple[str, list[Any]]:
        return Compiler(self.dialect, target).compile(parse(query) if isinstance(query, str) else query)

    def _budget(self, seconds: float) -> AbstractContextManager[Any]:
        """Hook: the context one read runs in, stopping it after `seconds` (budget.py). Inside an outer
        transaction a failed statement must not poison it: a savepoint. In autocommit (a normal request)
        that would only add BEGIN/COMMIT round trips."""
        return transaction.atomic() if connection.in_atomic_block else nullcontext()

    def _run(self, sql: str, params: Sequence[Any], fetch: str = "all") -> Any:
        """Run a read within the time budget; a regex the database rejects (it differs from Python's)
        becomes a QueryError, running past the budget a QueryBudgetExceeded (504)."""
        try:
            with self._budget(budget_seconds()), connection.cursor() as c:
                c.execute(sql, params)
                return c.fetchall() if fetch == "all" else c.fetchone()
        except DatabaseError as e:
            text = str(e).lower()
            if "regular expression" in text or "regexp" in text or "invalid regex" in text:
                raise QueryError(f"The database rejected the regular expression: {e}", 0) from e
            raise

    def _log_from_row(self, row: Sequence[Any]) -> LogRecord:
        (rid, org_id, time_us, service, level, sev, body, trace_id, span_id, cid, user_id, resource,
         attributes) = row
        return LogRecord(
            id=f"{time_us}.{rid}", org_id=org_id, time=from_us(time_us), service=service, level=level,
            severity_number=sev, body=body, trace_id=trace_id, span_id=span_id, correlation_id=cid,
            user_id=user_id, resource=_as_dict(self._json_out(resource)),
            attributes=_as_dict(self._json_out(attributes)),
        )

    def _span_from_row(self, row: Sequence[Any]) -> SpanRecord:
        (org_id, trace_id, span_id, parent, name, service, kind, status, status_message, start_us, end_us,
         _duration, resource, attributes, events) = row
        ev = self._json_out(events)
        return SpanRecord(
            org_id=org_id, trace_id=trace_id, span_id=span_id, parent_span_id=parent, name=name,
            service=service, kind=kind, status=status, status_message=status_message,
            start=from_us(start_us), end=from_us(end_us), resource=_as_dict(self._json_out(resource)),
            attributes=_as_dict(self._json_out(attributes)),
            events=[SpanEvent(from_us(int(e.get("time_us", 0))), str(e.get("name", "")), e.get("attributes") or {})
                    for e in (ev if isinstance(ev, list) else []) if isinstance(e, dict)],
        )

    # -- log reads ---------------------------------------------------------------------------------

    def search(self, org: Organization, query: str | Node, start: datetime, end: datetime,
               limit: int = 100, cursor: str | None = None) -> LogPage:
        where, params = self._where(query)
        sql = f"SELECT {_LOG_SELECT} FROM {LOG_TABLE} WHERE org_id = %s AND time_us >= %s AND time_us < %s"
        args: list[Any] = [org.pk, to_us(start), to_us(end)]
        if cursor:
            c = decode_cursor(cursor, "t", "i", "o")
            if c["o"] != org.pk:
                raise ForeignCursorError("This cursor belongs to another organization.")
            sql += " AND (time_us < %s OR (time_us = %s AND id < %s))"
            args += [int(c["t"]), int(c["t"]), int(c["i"])]
        sql += f" AND {where} ORDER BY time_us DESC, id DESC LIMIT %s"
        rows = self._run(sql, [*args, *params, limit + 1])
        records = [self._log_from_row(r) for r in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            next_cursor = encode_cursor(t=last[2], i=last[0], o=org.pk)
        return LogPage(records, next_cursor)

    def count(self, org: Organization, query: str | Node, start: datetime, end: datetime) -> int:
        where, params = self._where(query)
        row = self._run(f"SELECT count(*) FROM {LOG_TABLE} WHERE org_id = %s AND time_us >= %s AND time_us < %s "
                        f"AND {where}", [org.pk, to_us(start), to_us(end), *params], fetch="one")
        return int(row[0])

    # The bucket of a record's time; integer division in PostgreSQL/SQLite (ClickHouse spells it intDiv).
    _HISTOGRAM_BUCKET = "(time_us - %s) / %s"

    def _log_source(self, org: Organization, s_us: int, e_us: int) -> tuple[str, list[Any]]:
        """`<table> WHERE <org and window>` for one org's log records in [s_us, e_us), with its parameters."""
        return f"{LOG_TABLE} WHERE org_id = %s AND time_us >= %s AND time_us < %s", [org.pk, s_us, e_us]

    def histogram(self, org: Organization, query: str | Node, start: datetime, end: datetime,
                  buckets: int = 60) -> list[HistogramBucket]:
        where, params = self._where(query)
        s_us, e_us = to_us(start), to_us(end)
        step = max(1, -(-(e_us - s_us) // max(1, buckets)))
        source, source_params = self._log_source(org, s_us, e_us)
        rows = self._run(f"SELECT {self._HISTOGRAM_BUCKET} AS b, level, count(*) FROM {source} AND {where} "
                         "GROUP BY b, level", [s_us, step, *source_params, *params])
        out = [HistogramBucket(from_us(s_us + i * step), 0, {}) for i in range(buckets)]
        for b, level, n in rows:
            i = int(b)
            if 0 <= i < buckets:
                out[i].count += int(n)
                out[i].by_level[level] = out[i].by_level.get(level, 0) + int(n)
        return out

    def context(self, org: Organization, record_id: str, before: int = 10, after: int = 10) -> LogContext | None:
        try:
            t_str, _, i_str = record_id.partition(".")
            t, i = int(t_str), int(i_str)
        except ValueError:
            return None
        rows = self._run(f"SELECT {_LOG_SELECT} FROM {LOG_TABLE} WHERE org_id = %s AND time_us = %s AND id = %s",
                         [org.pk, t, i])
        if not rows:
            return None
        record = self._log_from_row(rows[0])
        older = self._run(
            f"SELECT {_LOG_SELECT} FROM {LOG_TABLE} WHERE org_id = %s AND service = %s AND time_us >= %s "
            "AND (time_us < %s OR (time_us = %s AND id < %s)) ORDER BY time_us DESC, id DESC LIMIT %s",
            [org.pk, record.service, t - 86_400_000_000, t, t, i, before])
        newer = self._run(
            f"SELECT {_LOG_SELECT} FROM {LOG_TABLE} WHERE org_id = %s AND service = %s AND time_us <= %s "
            "AND (time_us > %s OR (time_us = %s AND id > %s)) ORDER BY time_us, id LIMIT %s",
            [org.pk, record.service, t + 86_400_000_000, t, t, i, after])
        return LogContext(record, [self._log_from_row(r) for r in reversed(older)],
                          [self._log_from_row(r) for r in newer])

    def iter_records(self, org: Organization, query: str | Node, start: datetime, end: datetime,
                     batch_size: int = 2000) -> Generator[LogRecord, None, None]:
        where, params = self._where(query)
        sql = (f"SELECT {_LOG_SELECT} FROM {LOG_TABLE} WHERE org_id = %s AND time_us >= %s AND time_us < %s "
               f"AND {where} ORDER BY time_us, id")
        for row in self._stream(sql, [org.pk, to_us(start), to_us(end), *params], batch_size):
            yield self._log_from_row(row)

    # -- traces ------------------------------------------------------------------------------------

    def iter_spans(self, org: Organization, query: str | Node, start: datetime, end: datetime,
                   batch_size: int = 2000) -> Generator[SpanRecord, None, None]:
        where, params = self._where(query, target="spans")
        sql = (f"SELECT {_SPAN_SELECT} FROM {SPAN_TABLE} WHERE org_id = %s AND start_us >= %s AND start_us < %s "
               f"AND {where} ORDER BY start_us, id")
        for row in self._stream(sql, [org.pk, to_us(start), to_us(end), *params], batch_size):
            yield self._span_from_row(row)

    def _stream(self, sql: str, params: Sequence[Any], batch_size: int) -> Generator[Sequence[Any], None, None]:
        """Rows of `sql` through a server-side cursor, `batch_size` at a time (constant memory)."""
        with self._server_cursor() as c:
            c.execute(sql, params)
            while rows := c.fetchmany(batch_size):
                yield from rows

    def get_trace(self, org: Organization, trace_id: str) -> Trace | None:
        tid = trace_id.lower()
        if not _HEX_ID.match(tid):
            return None
        rows = self._run(f"SELECT {_SPAN_SELECT} FROM {SPAN_TABLE} WHERE org_id = %s AND trace_id = %s "
                         "ORDER BY start_us, span_id", [org.pk, tid])
        if not rows:
            return None
        spans = [self._span_from_row(r) for r in rows]
        first = to_us(spans[0].start) - 3_600_000_000
        last = max(to_us(s.end) for s in spans) + 3_600_000_000
        logs = self._run(f"SELECT {_LOG_SELECT} FROM {LOG_TABLE} WHERE org_id = %s AND trace_id = %s "
                         "AND time_us >= %s AND time_us < %s ORDER BY time_us, id LIMIT 1000",
                         [org.pk, tid, first, last])
        return Trace(tid, spans, [self._log_from_row(r) for r in logs])

    def search_traces(self, org: Organization, query: str | Node, start: datetime, end: datetime,
                      limit: int = 50) -> list[TraceSummary]:
        where, params = self._where(query, target="spans")
        s_us, e_us = to_us(start), to_us(end)
        ids = self._run(
            f"SELECT trace_id, max(start_us) AS latest FROM {SPAN_TABLE} WHERE org_id = %s AND start_us >= %s "
            f"AND start_us < %s AND {where} GROUP BY trace_id ORDER BY latest DESC LIMIT %s",
            [org.pk, s_us, e_us, *params, limit])
        if not ids:
            return []
        trace_ids = [r[0] for r in ids]
        marks = ", ".join(["%s"] * len(trace_ids))
        rows = self._run(
            f"SELECT trace_id, min(start_us), max(end_us), count(*), "
            f"sum(CASE WHEN status = 'error' THEN 1 ELSE 0 END) FROM {SPAN_TABLE} "
            f"WHERE org_id = %s AND trace_id IN ({marks}) GROUP BY trace_id", [org.pk, *trace_ids])
        roots = self._run(
            f"SELECT trace_id, service, name, start_us FROM {SPAN_TABLE} WHERE org_id = %s "
            f"AND trace_id IN ({marks}) AND parent_span_id = '' ORDER BY start_us", [org.pk, *trace_ids])
        root_of: dict[str, tuple[str, str]] = {}
        for tid, service, name, _ in roots:
            root_of.setdefault(tid, (service, name))
        summary = {r[0]: r for r in rows}
        out = []
        for tid in trace_ids:
            _, first, last, n, errors = summary[tid]
            service, name = root_of.get(tid, ("", "(root span not received)"))
            out.append(TraceSummary(tid, service, name, from_us(first), (last - first) / 1000.0, int(n),
                                    int(errors or 0)))
        return out

    # -- retention ---------------------------------------------------------------------------------

    def delete_older_than(self, org: Organization, cutoff: datetime, batch: int = 5000) -> int:
        """Delete in bounded batches so that no single statement holds a long lock."""
        cut = to_us(cutoff)
        total = 0
        for table, col in ((LOG_TABLE, "time_us"), (SPAN_TABLE, "start_us")):
            while True:
                with transaction.atomic(), connection.cursor() as c:
                    c.execute(f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE org_id = %s "
                              f"AND {col} < %s LIMIT %s)", [org.pk, cut, batch])
                    n = c.rowcount
                total += max(0, n)
                if n < batch:
                    break
        return total

    def drop_partitions_before(self, cutoff: datetime) -> list[str]:
        return []


def _dumps(value: dict[str, Any]) -> str:
    """Compact JSON of a record's attributes. orjson: this runs once per ingested record, where the standard
    library's encoder cost ~2.5 µs of the ~20 µs Python spends on a record."""
    try:
        return orjson.dumps(value, default=str).decode()
    except TypeError:  # what orjson refuses (integers over 64 bits, lone surrogates) the stdlib still writes
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def level_rank(level: str) -> int:
    return LEVELS.index(level) if level in LEVELS else 2
