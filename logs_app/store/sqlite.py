"""SQLite store (the embedded default): the same tables in the Django database, retention by batched DELETE."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.db import OperationalError, connection

from logs_app.query.ast import Node
from logs_app.query.sql import SQLITE
from logs_app.store.budget import QueryBudgetExceeded, sqlite_budget
from logs_app.store.records import ForeignCursorError, LogPage, decode_cursor, encode_cursor, to_us
from logs_app.store.sqlbase import _LOG_SELECT, LOG_TABLE, TAIL_WINDOW_US, SQLLogStore

if TYPE_CHECKING:
    from portal.tenancy.models import Organization


class SQLiteLogStore(SQLLogStore):
    name = "sqlite"
    dialect = SQLITE

    def _insert(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        marks = ", ".join(["%s"] * len(columns))
        with connection.cursor() as c:
            c.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)  # noqa: S608

    @contextmanager
    def _budget(self, seconds: float) -> Iterator[None]:
        connection.ensure_connection()
        with super()._budget(seconds), sqlite_budget(connection.connection, seconds) as expired:
            try:
                yield
            except OperationalError as e:
                if expired[0]:
                    raise QueryBudgetExceeded(seconds) from e
                raise

    def tail(self, org: Organization, query: str | Node, since_cursor: str | None = None, limit: int = 500) -> LogPage:
        """Records with ids above the cursor: SQLite serialises writers, so id order is commit order here
        (PostgreSQL's store has to follow snapshots instead)."""
        where, params = self._where(query)
        if since_cursor is None:
            return LogPage([], encode_cursor(i=self._last_id(), o=org.pk))
        cur = decode_cursor(since_cursor, "i", "o")
        if cur["o"] != org.pk:
            raise ForeignCursorError("This cursor belongs to another organization.")
        since = int(cur["i"])
        high = self._last_id()
        now_us = to_us(datetime.now(UTC))
        rows = self._run(
            f"SELECT {_LOG_SELECT} FROM {LOG_TABLE} WHERE org_id = %s AND time_us >= %s AND id > %s AND id <= %s "  # noqa: S608
            f"AND {where} ORDER BY id LIMIT %s", [org.pk, now_us - TAIL_WINDOW_US, since, high, *params, limit])
        records = [self._log_from_row(r) for r in rows]
        # A full page resumes after its last row; otherwise everything up to `high` has been looked at.
        last = int(rows[-1][0]) if len(rows) >= limit else max(since, high)
        return LogPage(records, encode_cursor(i=last, o=org.pk))

    def _last_id(self) -> int:
        with connection.cursor() as c:
            c.execute("SELECT COALESCE(max(id), 0) FROM logs_record")
            return int(c.fetchone()[0])
