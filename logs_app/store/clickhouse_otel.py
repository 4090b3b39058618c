# ruff: noqa: S608 - SQL is assembled from constant column names, validated table names and compiled query
# fragments whose values are all bound as ClickHouse query parameters; nothing user-supplied is in it.
"""Reading the tables the OpenTelemetry Collector's ClickHouse exporter writes (`otel_logs`, `otel_traces`).

A platform that already ships its telemetry through the Collector points the portal at those tables
(`LOGS_STORE_URL=clickhouse://host:8123/otel?layout=otel`) instead of sending it a second time. The
Collector writes; this store only reads (its write methods refuse).

The org of a row is one resource attribute (`org_attribute`, default the `LOGS_COLLECTOR_ORG_ATTRIBUTE`
setting, "org_id"), compared with the org's `label_value`. Every statement reads the exporter's tables only
through `_view`, whose inner WHERE carries `ResourceAttributes[<attribute>] = <label value>` (both bound
parameters) and, where there is one, the time range: the exporter partitions by day, so that prunes to the
days asked for. The view renames the exporter's columns to the portal's (`service`, `level`, `body`,
`attributes`, ...) so that the search language compiles with the shared compiler, as for the other stores.

What the layout does not have, and how it is made up:

- No record id: `id` is a hash of the row's identifying columns; record ids stay "<time_us>.<id>".
- No `level`: from `SeverityNumber` (1-24, OTLP's ranges), else `SeverityText`, as the receiver does.
- Correlation and user ids: the first non-empty of the `LOGS_CORRELATION_ATTRIBUTES` /
  `LOGS_USER_ATTRIBUTES` keys, in the record's then the resource's attributes, as the receiver does.
- `tail` follows time order, not arrival order: a record the Collector delivers with a timestamp older
  than the last one tailed is not shown by `tail` (search finds it).
- Retention belongs to the exporter's table TTL: `delete_older_than` and `drop_partitions_before` do
  nothing here.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from logs_app.query.ast import Node
from logs_app.query.errors import QueryError
from logs_app.query.parser import parse
from logs_app.query.sql import LEVEL_ALIASES, Compiler
from logs_app.store import durations
from logs_app.store.base import LogStore
from logs_app.store.budget import QueryBudgetExceeded, budget_seconds
from logs_app.store.clickhouse import ClickHouseDialect
from logs_app.store.clickhouse_exec import EngineError, Executor, bind, executor_from_url
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
from logs_app.store.sqlbase import TAIL_WINDOW_US

if TYPE_CHECKING:
    from portal.tenancy.models import Organization

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}\Z")
_HEX_ID = re.compile(r"^[0-9a-f]{1,32}\Z")
_TIMEOUT_EXCEEDED = 159
_REGEXP_CODES = {427}
_DAY_US = 86_400_000_000


class ReadOnlyStoreError(EngineError):
    """A write to the Collector's tables: the Collector writes them, the portal only reads."""


class OtelDialect(ClickHouseDialect):
    """Attributes are the exporter's `Map(LowCardinality(String), String)` columns (values are text)."""

    def attr_text(self, key_params: list[Any], key: str) -> str:
        key_params.extend([key] * 4)
        return ("multiIf(mapContains(attributes, %s), attributes[%s], "
                "mapContains(resource, %s), resource[%s], NULL)")

    def attr_number(self, key_params: list[Any], key: str) -> str:
        key_params.extend([key] * 2)
        return "if(mapContains(attributes, %s), toFloat64OrNull(trimBoth(attributes[%s])), NULL)"

    def attr_duration_ns(self, params: list[Any], attributes: Sequence[tuple[str, float]]) -> str:
        return durations.clickhouse_map_ns(params, attributes)


OTEL = OtelDialect("clickhouse")


def _literal_list(values: Sequence[str]) -> str:
    # Code constants (level names) only: checked to be plain words before they become SQL literals.
    assert all(v.isascii() and v.isalpha() for v in values)  # noqa: S101
    return "[" + ", ".join(f"'{v}'" for v in values) + "]"


_TEXT_LEVELS = [*LEVEL_ALIASES, *LEVELS]
_LEVEL_SQL = (
    f"multiIf(SeverityNumber BETWEEN 1 AND 24, arrayElement({_literal_list(LEVELS)}, "
    "intDiv(SeverityNumber - 1, 4) + 1), "
    f"transform(lower(trimBoth(SeverityText)), {_literal_list(_TEXT_LEVELS)}, "
    f"{_literal_list([LEVEL_ALIASES.get(k, k) for k in _TEXT_LEVELS])}, 'info'))"
)
_KIND_SQL = ("multiIf(lower(replaceRegexpOne(SpanKind, '^SPAN_KIND_', '')) IN "
             "('server', 'client', 'producer', 'consumer'), lower(replaceRegexpOne(SpanKind, '^SPAN_KIND_', '')), "
             "'internal')")
_STATUS_SQL = ("multiIf(lower(replaceRegexpOne(StatusCode, '^STATUS_CODE_', '')) IN ('ok', 'error'), "
               "lower(replaceRegexpOne(StatusCode, '^STATUS_CODE_', '')), 'unset')")

LOG_VIEW_COLUMNS = ("id", "time_us", "service", "level", "severity_number", "body", "trace_id", "span_id",
                    "correlation_id", "user_id", "resource", "attributes")
SPAN_VIEW_COLUMNS = ("id", "start_us", "end_us", "trace_id", "span_id", "parent_span_id", "name", "service",
                     "kind", "status", "status_message", "resource", "attributes", "event_times", "event_names",
                     "event_attributes")
_LOG_SELECT = ", ".join(LOG_VIEW_COLUMNS)
_SPAN_SELECT = ", ".join(SPAN_VIEW_COLUMNS)


class ClickHouseOtelStore(LogStore):
    """The store interface over the exporter's `otel_logs` / `otel_traces` (read only)."""

    name = "clickhouse-otel"
    dialect = OTEL

    def __init__(self, executor: Executor, org_attribute: str | None = None, database: str | None = None,
                 logs_table: str = "otel_logs", traces_table: str = "otel_traces") -> None:
        self.executor = executor
        if org_attribute is None:
            org_attribute = str(getattr(settings, "LOGS_COLLECTOR_ORG_ATTRIBUTE", "org_id"))
        self.org_attribute = org_attribute
        db = database or executor.database
        for label, value in (("database", db), ("logs_table", logs_table), ("traces_table", traces_table)):
            if not _NAME.match(value):
                raise ImproperlyConfigured(f"Collector layout: {label} {value!r} must be letters, digits, _")
        if not self.org_attribute or len(self.org_attribute) > 256:
            raise ImproperlyConfigured("Collector layout: the org attribute must be 1-256 characters")
        self.logs_table = f"{db}.{logs_table}"
        self.traces_table = f"{db}.{traces_table}"
        self.correlation_keys = list(getattr(settings, "LOGS_CORRELATION_ATTRIBUTES",
                                             ["correlation_id", "request_id", "correlation.id", "x_request_id"]))
        self.user_keys = list(getattr(settings, "LOGS_USER_ATTRIBUTES", ["user_id", "user.id", "enduser.id"]))
        self._timestamp_time: bool | None = None

    # -- the org-scoped views --------------------------------------------------------------------------

    def _first_of(self, keys: Sequence[str], params: list[Any]) -> str:
        if not keys:
            return "''"
        parts = []
        for column in ("LogAttributes", "ResourceAttributes"):
            for key in keys:
                params.extend([key, key])
                parts.append(f"{column}[%s] != '', {column}[%s]")
        return f"multiIf({', '.join(parts)}, '')"

    def _view(self, kind: str, org: Organization, s_us: int | None = None, e_us: int | None = None,
              inner: str = "", inner_params: Sequence[Any] = ()) -> tuple[str, list[Any]]:
        """`(SELECT <portal columns> FROM <exporter table> WHERE <org> [AND <time>] [AND inner])`."""
        params: list[Any] = []
        if kind == "logs":
            corr = self._first_of(self.correlation_keys, params)
            user = self._first_of(self.user_keys, params)
            table, time_col = self.logs_table, "Timestamp"
            columns = (
                "intDiv(cityHash64(Timestamp, TraceId, SpanId, ServiceName, Body), 2) AS id, "
                "toUnixTimestamp64Micro(Timestamp) AS time_us, toString(ServiceName) AS service, "
                f"{_LEVEL_SQL} AS level, toUInt8(least(greatest(SeverityNumber, 0), 255)) AS severity_number, "
                "Body AS body, lower(TraceId) AS trace_id, lower(SpanId) AS span_id, "
                f"{corr} AS correlation_id, {user} AS user_id, ResourceAttributes AS resource, "
                "LogAttributes AS attributes")
        else:
            table, time_col = self.traces_table, "Timestamp"
            columns = (
                "intDiv(cityHash64(TraceId, SpanId, Timestamp), 2) AS id, "
                "toUnixTimestamp64Micro(Timestamp) AS start_us, "
                "toUnixTimestamp64Micro(Timestamp) + intDiv(Duration, 1000) AS end_us, "
                "Duration / 1000000.0 AS duration_ms, lower(TraceId) AS trace_id, lower(SpanId) AS span_id, "
                "lower(ParentSpanId) AS parent_span_id, toString(SpanName) AS name, "
                f"toString(ServiceName) AS service, {_KIND_SQL} AS kind, {_STATUS_SQL} AS status, "
                "StatusMessage AS status_message, ResourceAttributes AS resource, SpanAttributes AS attributes, "
                "arrayMap(t -> toUnixTimestamp64Micro(t), `Events.Timestamp`) AS event_times, "
                "`Events.Name` AS event_names, `Events.Attributes` AS event_attributes")
        where = "ResourceAttributes[%s] = %s"
        params += [self.org_attribute, org.label_value]
        # The exporter's current logs table partitions and keys on TimestampTime (whole seconds): the same
        # range on it, widened to whole seconds, is what lets the engine skip other days and granules.
        seconds = kind == "logs" and self._has_timestamp_time()
        if s_us is not None:
            where += f" AND {time_col} >= fromUnixTimestamp64Micro(%s, 'UTC')"
            params.append(s_us)
            if seconds:
                where += " AND TimestampTime >= toDateTime(fromUnixTimestamp64Micro(%s, 'UTC'))"
                params.append(s_us)
        if e_us is not None:
            where += f" AND {time_col} < fromUnixTimestamp64Micro(%s, 'UTC')"
            params.append(e_us)
            if seconds:
                where += " AND TimestampTime <= toDateTime(fromUnixTimestamp64Micro(%s, 'UTC'))"
                params.append(e_us)
        if inner:
            where += f" AND {inner}"
            params.extend(inner_params)
        return f"(SELECT {columns} FROM {table} WHERE {where})", params

    def _has_timestamp_time(self) -> bool:
        """Whether the logs table has the exporter's TimestampTime column (newer exporters; asked once)."""
        if self._timestamp_time is None:
            db, table = self.logs_table.split(".", 1)
            text, values = bind("SELECT count() FROM system.columns WHERE database = %s AND table = %s "
                                "AND name = 'TimestampTime'", [db, table])
            rows = self.executor.execute(text, values)
            self._timestamp_time = bool(rows and int(rows[0][0]))
        return self._timestamp_time

    def _where(self, query: str | Node, target: str = "logs") -> tuple[str, list[Any]]:
        return Compiler(self.dialect, target).compile(parse(query) if isinstance(query, str) else query)

    def _run(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        seconds = budget_seconds()
        text, values = bind(sql, params)
        text += f" SETTINGS max_execution_time = {max(1, round(seconds))}"
        try:
            return self.executor.execute(text, values)
        except EngineError as e:
            if e.code == _TIMEOUT_EXCEEDED:
                raise QueryBudgetExceeded(seconds) from e
            if e.code in _REGEXP_CODES:
                raise QueryError(f"The database rejected the regular expression: {e}", 0) from e
            raise

    # -- rows → records --------------------------------------------------------------------------------

    @staticmethod
    def _log(org: Organization, row: Sequence[Any]) -> LogRecord:
        rid, time_us, service, level, sev, body, trace_id, span_id, cid, user_id, resource, attributes = row
        return LogRecord(
            id=f"{time_us}.{rid}", org_id=org.pk, time=from_us(int(time_us)), service=service, level=level,
            severity_number=int(sev), body=body, trace_id=trace_id, span_id=span_id, correlation_id=cid,
            user_id=user_id, resource=dict(resource or {}), attributes=dict(attributes or {}))

    @staticmethod
    def _span(org: Organization, row: Sequence[Any]) -> SpanRecord:
        (_id, start_us, end_us, trace_id, span_id, parent, name, service, kind, status, message, resource,
         attributes, ev_times, ev_names, ev_attrs) = row
        events = [SpanEvent(from_us(int(t)), str(n), dict(a or {}))
                  for t, n, a in zip(ev_times or [], ev_names or [], ev_attrs or [], strict=False)]
        return SpanRecord(
            org_id=org.pk, trace_id=trace_id, span_id=span_id, parent_span_id=parent, name=name, service=service,
            kind=kind, status=status, status_message=message, start=from_us(int(start_us)),
            end=from_us(int(end_us)), resource=dict(resource or {}), attributes=dict(attributes or {}),
            events=events)

    # -- writes: the Collector's ---------------------------------------------------------------------

    def write_logs(self, batch: Sequence[LogRecord]) -> int:
        if not batch:
            return 0
        raise ReadOnlyStoreError("This store reads the OpenTelemetry Collector's tables; send logs to the "
                                 "Collector, not to the portal.")

    def write_spans(self, batch: Sequence[SpanRecord]) -> int:
        if not batch:
            return 0
        raise ReadOnlyStoreError("This store reads the OpenTelemetry Collector's tables; send spans to the "
                                 "Collector, not to the portal.")

    # -- log reads -------------------------------------------------------------------------------------

    def search(self, org: Organization, query: str | Node, start: datetime, end: datetime,
               limit: int = 100, cursor: str | None = None) -> LogPage:
        where, params = self._where(query)
        view, vparams = self._view("logs", org, to_us(start), to_us(end))
        sql = f"SELECT {_LOG_SELECT} FROM {view} WHERE 1 = 1"
        args: list[Any] = list(vparams)
        if cursor:
            c = decode_cursor(cursor, "t", "i", "o")
            if c["o"] != org.pk:
                raise ForeignCursorError("This cursor belongs to another organization.")
            sql += " AND (time_us < %s OR (time_us = %s AND id < %s))"
            args += [int(c["t"]), int(c["t"]), int(c["i"])]
        sql += f" AND {where} ORDER BY time_us DESC, id DESC LIMIT %s"
        rows = self._run(sql, [*args, *params, limit + 1])
        records = [self._log(org, r) for r in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            next_cursor = encode_cursor(t=int(last[1]), i=int(last[0]), o=org.pk)
        return LogPage(records, next_cursor)

    def count(self, org: Organization, query: str | Node, start: datetime, end: datetime) -> int:
        where, params = self._where(query)
        view, vparams = self._view("logs", org, to_us(start), to_us(end))
        rows = self._run(f"SELECT count() FROM {view} WHERE {where}", [*vparams, *params])
        return int(rows[0][0]) if rows else 0

    def histogram(self, org: Organization, query: str | Node, start: datetime, end: datetime,
                  buckets: int = 60) -> list[HistogramBucket]:
        where, params = self._where(query)
        s_us, e_us = to_us(start), to_us(end)
        step = max(1, -(-(e_us - s_us) // max(1, buckets)))
        view, vparams = self._view("logs", org, s_us, e_us)
        rows = self._run(f"SELECT intDiv(time_us - %s, %s) AS b, level, count() FROM {view} WHERE {where} "
                         "GROUP BY b, level", [s_us, step, *vparams, *params])
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
        view, vparams = self._view("logs", org, t, t + 1)
        rows = self._run(f"SELECT {_LOG_SELECT} FROM {view} WHERE id = %s LIMIT 1", [*vparams, i])
        if not rows:
            return None
        record = self._log(org, rows[0])
        view, vparams = self._view("logs", org, t - _DAY_US, t + 1, "ServiceName = %s", [record.service])
        older = self._run(f"SELECT {_LOG_SELECT} FROM {view} WHERE (time_us < %s OR (time_us = %s AND id < %s)) "
                          "ORDER BY time_us DESC, id DESC LIMIT %s", [*vparams, t, t, i, before])
        view, vparams = self._view("logs", org, t, t + _DAY_US + 1, "ServiceName = %s", [record.service])
        newer = self._run(f"SELECT {_LOG_SELECT} FROM {view} WHERE (time_us > %s OR (time_us = %s AND id > %s)) "
                          "ORDER BY time_us, id LIMIT %s", [*vparams, t, t, i, after])
        return LogContext(record, [self._log(org, r) for r in reversed(older)], [self._log(org, r) for r in newer])

    def tail(self, org: Organization, query: str | Node, since_cursor: str | None = None,
             limit: int = 500) -> LogPage:
        where, params = self._where(query)
        now_us = to_us(datetime.now(UTC))
        if since_cursor is None:
            return LogPage([], encode_cursor(t=now_us, i=-1, o=org.pk))
        cur = decode_cursor(since_cursor, "t", "i", "o")
        if cur["o"] != org.pk:
            raise ForeignCursorError("This cursor belongs to another organization.")
        t, i = int(cur["t"]), int(cur["i"])
        view, vparams = self._view("logs", org, max(t, now_us - TAIL_WINDOW_US), now_us + 1)
        rows = self._run(f"SELECT {_LOG_SELECT} FROM {view} WHERE (time_us > %s OR (time_us = %s AND id > %s)) "
                         f"AND {where} ORDER BY time_us, id LIMIT %s", [*vparams, t, t, i, *params, limit])
        if rows:
            t, i = int(rows[-1][1]), int(rows[-1][0])
        return LogPage([self._log(org, r) for r in rows], encode_cursor(t=t, i=i, o=org.pk))

    def iter_records(self, org: Organization, query: str | Node, start: datetime, end: datetime,
                     batch_size: int = 2000) -> Generator[LogRecord, None, None]:
        where, params = self._where(query)
        for row in self._pages("logs", _LOG_SELECT, org, to_us(start), to_us(end), where, params, batch_size):
            yield self._log(org, row)

    def iter_spans(self, org: Organization, query: str | Node, start: datetime, end: datetime,
                   batch_size: int = 2000) -> Generator[SpanRecord, None, None]:
        where, params = self._where(query, target="spans")
        for row in self._pages("spans", _SPAN_SELECT, org, to_us(start), to_us(end), where, params, batch_size):
            yield self._span(org, row)

    def _pages(self, kind: str, select: str, org: Organization, s_us: int, e_us: int, where: str,
               params: list[Any], batch_size: int) -> Generator[Sequence[Any], None, None]:
        """Rows in (time, id) order, one bounded query per page: constant memory, no statement held open."""
        time_col = "time_us" if kind == "logs" else "start_us"
        view, vparams = self._view(kind, org, s_us, e_us)
        sql = (f"SELECT {select} FROM {view} WHERE ({time_col} > %s OR ({time_col} = %s AND id > %s)) "
               f"AND {where} ORDER BY {time_col}, id LIMIT %s")
        after_t, after_id = s_us - 1, -1
        while True:
            rows = self._run(sql, [*vparams, after_t, after_t, after_id, *params, batch_size])
            yield from rows
            if len(rows) < batch_size:
                return
            after_t, after_id = int(rows[-1][1]), int(rows[-1][0])

    # -- traces ----------------------------------------------------------------------------------------

    def get_trace(self, org: Organization, trace_id: str) -> Trace | None:
        tid = trace_id.lower()
        if not _HEX_ID.match(tid):
            return None
        view, vparams = self._view("spans", org, inner="TraceId = %s", inner_params=[tid])
        rows = self._run(f"SELECT {_SPAN_SELECT} FROM {view} ORDER BY start_us, span_id", vparams)
        if not rows:
            return None
        spans = [self._span(org, r) for r in rows]
        first = to_us(spans[0].start) - 3_600_000_000
        last = max(to_us(s.end) for s in spans) + 3_600_000_000
        view, vparams = self._view("logs", org, first, last, "TraceId = %s", [tid])
        logs = self._run(f"SELECT {_LOG_SELECT} FROM {view} ORDER BY time_us, id LIMIT 1000", vparams)
        return Trace(tid, spans, [self._log(org, r) for r in logs])

    def search_traces(self, org: Organization, query: str | Node, start: datetime, end: datetime,
                      limit: int = 50) -> list[TraceSummary]:
        where, params = self._where(query, target="spans")
        view, vparams = self._view("spans", org, to_us(start), to_us(end))
        ids = self._run(f"SELECT trace_id, max(start_us) AS latest FROM {view} WHERE {where} "
                        "GROUP BY trace_id ORDER BY latest DESC LIMIT %s", [*vparams, *params, limit])
        if not ids:
            return []
        trace_ids = [str(r[0]) for r in ids]
        marks = ", ".join(["%s"] * len(trace_ids))
        view, vparams = self._view("spans", org, inner=f"TraceId IN ({marks})", inner_params=trace_ids)
        rows = self._run(f"SELECT trace_id, min(start_us), max(end_us), count(), countIf(status = 'error') "
                         f"FROM {view} GROUP BY trace_id", vparams)
        roots = self._run(f"SELECT trace_id, service, name FROM {view} WHERE parent_span_id = '' "
                          "ORDER BY start_us", vparams)
        root_of: dict[str, tuple[str, str]] = {}
        for tid, service, name in roots:
            root_of.setdefault(tid, (service, name))
        summary = {r[0]: r for r in rows}
        out = []
        for tid in trace_ids:
            if tid not in summary:
                continue
            _, first, last, n, errors = summary[tid]
            service, name = root_of.get(tid, ("", "(root span not received)"))
            out.append(TraceSummary(tid, service, name, from_us(int(first)), (int(last) - int(first)) / 1000.0,
                                    int(n), int(errors or 0)))
        return out

    # -- retention: the exporter's TTL -----------------------------------------------------------------

    def delete_older_than(self, org: Organization, cutoff: datetime) -> int:
        return 0

    def drop_partitions_before(self, cutoff: datetime) -> list[str]:
        return []


def is_otel_url(url: str) -> bool:
    return parse_qs(urlsplit(url).query).get("layout", [""])[-1] == "otel"


def otel_store_from_url(url: str) -> ClickHouseOtelStore:
    """`...?layout=otel[&org_attribute=org_id][&logs_table=otel_logs][&traces_table=otel_traces]`; the
    database is the URL's (`chdb:///dir?database=otel` or `clickhouse://host:8123/otel`)."""
    query = {k: v[-1] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}
    unknown = set(query) - {"layout", "org_attribute", "logs_table", "traces_table", "database"}
    if unknown:
        raise ImproperlyConfigured(f"LOGS_STORE_URL: unknown option(s) {', '.join(sorted(unknown))}")
    return ClickHouseOtelStore(executor_from_url(url), org_attribute=query.get("org_attribute"),
                               logs_table=query.get("logs_table", "otel_logs"),
                               traces_table=query.get("traces_table", "otel_traces"))
