# ruff: noqa: S608 - SQL is assembled from constant table/column names and compiled query fragments whose
# values are all bound as ClickHouse query parameters (clickhouse_exec.bind); nothing user-supplied is in it.
"""ClickHouse store: the log/trace store past one machine (tables and layout: clickhouse_schema.py).

It keeps the SQL stores' shapes (sqlbase.py: integer microsecond times, "<time_us>.<id>" record ids, the
same cursors) and runs them through one `Executor` (clickhouse_exec.py): chdb in process, or a server over
HTTP. The search language compiles with the shared compiler and a ClickHouse dialect below; every value is a
server-side query parameter. Reads run under `max_execution_time` (LOGS_QUERY_TIMEOUT).

Differences from the SQL stores, by design of the engine:

- Writes are one INSERT per batch (one part; on a server `async_insert` batches small ones further).
- `tail` follows the engine's snowflake ids (time-ordered per server): on one server an INSERT's rows get
  their ids as it is parsed and become visible when it commits, milliseconds later; a record whose INSERT
  commits after a poll that saw a later INSERT's rows is not delivered by `tail` (search still finds it).
- Exports page by (time, id) instead of holding a server-side cursor: each page is one bounded query.
- Deletes are lightweight DELETEs (rows are hidden at once and removed by the next merge).
"""

from __future__ import annotations

import json
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from logs_app.query.ast import Node
from logs_app.query.errors import QueryError
from logs_app.query.sql import Dialect
from logs_app.store import durations
from logs_app.store.budget import QueryBudgetExceeded, budget_seconds
from logs_app.store.clickhouse_exec import EngineError, Executor, bind
from logs_app.store.clickhouse_schema import migrate
from logs_app.store.records import (
    ForeignCursorError,
    LogPage,
    LogRecord,
    SpanRecord,
    decode_cursor,
    encode_cursor,
    to_us,
)
from logs_app.store.sqlbase import (
    _LOG_SELECT,
    _SPAN_SELECT,
    LOG_COLUMNS,
    LOG_TABLE,
    SPAN_COLUMNS,
    SPAN_TABLE,
    TAIL_WINDOW_US,
    SQLLogStore,
    _dumps,
)

if TYPE_CHECKING:
    from portal.tenancy.models import Organization

_TIMEOUT_EXCEEDED = 159
_REGEXP_CODES = {427}  # CANNOT_COMPILE_REGEXP


@dataclass(frozen=True)
class ClickHouseDialect(Dialect):
    """The search language's fragments in ClickHouse SQL. Attributes are JSON text (kept verbatim for the
    record's round trip); keys are looked up as keys, so dotted names such as http.method work."""

    def icontains(self, column: str) -> str:
        # Lower-cased on both sides: the form the n-gram skip index on lowerUTF8(body) serves.
        return f"lowerUTF8({column}) LIKE lowerUTF8(%s)"

    def regex(self, column: str) -> str:
        return f"match({column}, %s)"

    def attr_text(self, key_params: list[Any], key: str) -> str:
        key_params.extend([key] * 8)
        return ("multiIf(JSONType(attributes, %s) = 'String', JSONExtractString(attributes, %s), "
                "JSONHas(attributes, %s), JSONExtractRaw(attributes, %s), "
                "JSONType(resource, %s) = 'String', JSONExtractString(resource, %s), "
                "JSONHas(resource, %s), JSONExtractRaw(resource, %s), NULL)")

    def attr_number(self, key_params: list[Any], key: str) -> str:
        key_params.extend([key] * 4)
        return ("multiIf(JSONType(attributes, %s) IN ('Int64', 'UInt64', 'Double'), "
                "JSONExtractFloat(attributes, %s), JSONType(attributes, %s) = 'String', "
                "toFloat64OrNull(trimBoth(JSONExtractString(attributes, %s))), NULL)")

    def attr_duration_ns(self, params: list[Any], attributes: Sequence[tuple[str, float]]) -> str:
        return durations.clickhouse_json_ns(params, attributes)


CLICKHOUSE = ClickHouseDialect("clickhouse")


class ClickHouseLogStore(SQLLogStore):
    name = "clickhouse"
    dialect = CLICKHOUSE

    def __init__(self, executor: Executor) -> None:
        self.executor = executor
        migrate(executor)

    # -- engine access -----------------------------------------------------------------------------

    def _run(self, sql: str, params: Sequence[Any], fetch: str = "all") -> Any:
        """One read within the time budget: past it a QueryBudgetExceeded (504); a regex the engine
        refuses a QueryError."""
        seconds = budget_seconds()
        text, values = bind(sql, params)
        text += f" SETTINGS max_execution_time = {max(1, round(seconds))}"
        try:
            rows = self.executor.execute(text, values)
        except EngineError as e:
            if e.code == _TIMEOUT_EXCEEDED:
                raise QueryBudgetExceeded(seconds) from e
            if e.code in _REGEXP_CODES:
                raise QueryError(f"The database rejected the regular expression: {e}", 0) from e
            raise
        if fetch == "all":
            return rows
        return rows[0] if rows else None

    def _write(self, sql: str, params: Sequence[Any]) -> None:
        text, values = bind(sql, params)
        self.executor.execute(text, values)

    # -- writes ------------------------------------------------------------------------------------

    def write_logs(self, batch: Sequence[LogRecord]) -> int:
        if not batch:
            return 0
        keep = _retention_days({r.org_id for r in batch})
        rows = [(r.org_id, to_us(r.time), r.service, r.level, r.severity_number, r.body, r.trace_id, r.span_id,
                 r.correlation_id, r.user_id, _dumps(r.resource), _dumps(r.attributes), keep[r.org_id])
                for r in batch]
        self.executor.insert(LOG_TABLE, (*LOG_COLUMNS, "retention_days"), rows)
        return len(rows)

    def write_spans(self, batch: Sequence[SpanRecord]) -> int:
        if not batch:
            return 0
        keep = _retention_days({s.org_id for s in batch})
        rows = []
        for s in batch:
            start, end = to_us(s.start), to_us(s.end)
            events = [{"time_us": to_us(e.time), "name": e.name, "attributes": e.attributes} for e in s.events]
            rows.append((s.org_id, s.trace_id, s.span_id, s.parent_span_id, s.name, s.service, s.kind, s.status,
                         s.status_message, start, end, max(0.0, (end - start) / 1000.0), _dumps(s.resource),
                         _dumps(s.attributes), json.dumps(events, ensure_ascii=False, default=str),
                         keep[s.org_id]))
        self.executor.insert(SPAN_TABLE, (*SPAN_COLUMNS, "retention_days"), rows)
        return len(rows)

    # -- reads -------------------------------------------------------------------------------------

    _HISTOGRAM_BUCKET = "intDiv(time_us - %s, %s)"

    def tail(self, org: Organization, query: str | Node, since_cursor: str | None = None,
             limit: int = 500) -> LogPage:
        where, params = self._where(query)
        now_us = to_us(datetime.now(UTC))
        if since_cursor is None:
            return LogPage([], encode_cursor(i=self._high_water(org, now_us), o=org.pk))
        cur = decode_cursor(since_cursor, "i", "o")
        if cur["o"] != org.pk:
            raise ForeignCursorError("This cursor belongs to another organization.")
        since = int(cur["i"])
        high = self._high_water(org, now_us)
        rows = self._run(
            f"SELECT {_LOG_SELECT} FROM {LOG_TABLE} WHERE org_id = %s AND time_us >= %s AND id > %s "
            f"AND id <= %s AND {where} ORDER BY id LIMIT %s",
            [org.pk, now_us - TAIL_WINDOW_US, since, high, *params, limit])
        # A full page resumes after its last row; otherwise everything up to `high` has been looked at.
        last = int(rows[-1][0]) if len(rows) >= limit else max(since, high)
        return LogPage([self._log_from_row(r) for r in rows], encode_cursor(i=last, o=org.pk))

    def _high_water(self, org: Organization, now_us: int) -> int:
        row = self._run(f"SELECT max(id) FROM {LOG_TABLE} WHERE org_id = %s AND time_us >= %s",
                        [org.pk, now_us - TAIL_WINDOW_US], fetch="one")
        return int(row[0] or 0) if row else 0

    def iter_records(self, org: Organization, query: str | Node, start: datetime, end: datetime,
                     batch_size: int = 2000) -> Generator[LogRecord, None, None]:
        where, params = self._where(query)
        sql = (f"SELECT {_LOG_SELECT} FROM {LOG_TABLE} WHERE org_id = %s AND time_us >= %s AND time_us < %s "
               f"AND (time_us > %s OR (time_us = %s AND id > %s)) AND {where} ORDER BY time_us, id LIMIT %s")
        for row in self._pages(sql, org.pk, to_us(start), to_us(end), params, batch_size, time_index=2):
            yield self._log_from_row(row)

    def iter_spans(self, org: Organization, query: str | Node, start: datetime, end: datetime,
                   batch_size: int = 2000) -> Generator[SpanRecord, None, None]:
        where, params = self._where(query, target="spans")
        sql = (f"SELECT id, {_SPAN_SELECT} FROM {SPAN_TABLE} WHERE org_id = %s AND start_us >= %s "
               f"AND start_us < %s AND (start_us > %s OR (start_us = %s AND id > %s)) AND {where} "
               "ORDER BY start_us, id LIMIT %s")
        for row in self._pages(sql, org.pk, to_us(start), to_us(end), params, batch_size, time_index=10):
            yield self._span_from_row(row[1:])

    def _pages(self, sql: str, org_id: int, s_us: int, e_us: int, params: list[Any], batch_size: int,
               time_index: int) -> Generator[Sequence[Any], None, None]:
        """Rows in (time, id) order, one bounded query per `batch_size` rows: constant memory, and no
        statement held open between pages (chdb runs one statement at a time)."""
        after_t, after_id = s_us - 1, -1
        while True:
            rows = self._run(sql, [org_id, s_us, e_us, after_t, after_t, after_id, *params, batch_size])
            yield from rows
            if len(rows) < batch_size:
                return
            after_t, after_id = int(rows[-1][time_index]), int(rows[-1][0])

    # -- retention ---------------------------------------------------------------------------------

    def delete_older_than(self, org: Organization, cutoff: datetime, batch: int = 5000) -> int:
        cut = to_us(cutoff)
        total = 0
        for table, col in ((LOG_TABLE, "time_us"), (SPAN_TABLE, "start_us")):
            row = self._run(f"SELECT count() FROM {table} WHERE org_id = %s AND {col} < %s", [org.pk, cut],
                            fetch="one")
            n = int(row[0]) if row else 0
            if n:
                self._write(f"DELETE FROM {table} WHERE org_id = %s AND {col} < %s", [org.pk, cut])
            total += n
        return total

    def drop_partitions_before(self, cutoff: datetime) -> list[str]:
        """Drop whole days (all orgs) ending at or before `cutoff`; the TTL usually got there first."""
        cut = to_us(cutoff)
        dropped: list[str] = []
        for table in (LOG_TABLE, SPAN_TABLE):
            text, values = bind("SELECT DISTINCT partition_id FROM system.parts WHERE database = %s "
                                "AND table = %s AND active", [self.executor.database, table])
            for (pid,) in self.executor.execute(text, values):
                day = _day_of(str(pid))
                if day is not None and day + 86_400_000_000 <= cut:
                    # The partition id comes from the catalog and is checked to be eight digits.
                    self.executor.execute(f"ALTER TABLE {table} DROP PARTITION ID '{pid}'")
                    dropped.append(f"{table}_p{pid}")
        return dropped


def _day_of(partition_id: str) -> int | None:
    if len(partition_id) != 8 or not partition_id.isdigit():
        return None
    try:
        return to_us(datetime.strptime(partition_id, "%Y%m%d").replace(tzinfo=UTC))
    except ValueError:
        return None


def _retention_days(org_ids: set[int]) -> dict[int, int]:
    """Each org's retention in days, written on its rows for the tables' TTL."""
    from logs_app.retention import effective_days, max_retention_days
    from portal.tenancy.models import Organization

    found = {o.pk: effective_days(o) for o in Organization.objects.filter(pk__in=org_ids).only(
        "pk", "log_retention_days")}
    return {i: found.get(i, max_retention_days()) for i in org_ids}
