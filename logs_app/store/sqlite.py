"""SQLite store (the embedded default): the same tables in the Django database, retention by batched DELETE."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection

from logs_app.query.sql import SQLITE
from logs_app.store.sqlbase import SQLLogStore


class SQLiteLogStore(SQLLogStore):
    name = "sqlite"
    dialect = SQLITE

    def _insert(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        marks = ", ".join(["%s"] * len(columns))
        with connection.cursor() as c:
            c.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)  # noqa: S608

    def _last_id(self, cursor: Any) -> int:
        cursor.execute("SELECT COALESCE(max(id), 0) FROM logs_record")
        return int(cursor.fetchone()[0])
