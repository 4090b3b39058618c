"""The ClickHouse store on the in-process engine (chdb) for tests: one data directory per test process.

chdb runs one data directory per process, for the life of the process: the store is made once, in a
temporary directory removed at exit, and emptied before each test that asks for it.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from typing import Any

from logs_app.store.clickhouse import ClickHouseLogStore
from logs_app.store.clickhouse_exec import ChdbExecutor

_stores: list[ClickHouseLogStore] = []


class RecordingExecutor:
    """Wraps an executor and keeps every statement with its parameters (the org-condition test reads them)."""

    def __init__(self, inner: ChdbExecutor) -> None:
        self.inner = inner
        self.database = inner.database
        self.statements: list[tuple[str, dict[str, Any]]] = []
        self.inserts: list[tuple[str, list[Any]]] = []

    def execute(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        self.statements.append((sql, dict(params or {})))
        return self.inner.execute(sql, params)

    def insert(self, table: str, columns: Any, rows: Any) -> None:
        self.inserts.append((table, list(rows)))
        self.inner.insert(table, columns, rows)

    def export_file(self, sql: str, params: Any, fmt: str, path: Any, compress: bool) -> None:
        self.statements.append((f"{sql} INTO OUTFILE", dict(params)))
        self.inner.export_file(sql, params, fmt, path, compress)


def _shared_store() -> ClickHouseLogStore:
    if not _stores:
        path = tempfile.mkdtemp(prefix="portal-chdb-")
        atexit.register(shutil.rmtree, path, True)
        _stores.append(ClickHouseLogStore(ChdbExecutor(path)))
    return _stores[0]


def fresh_clickhouse_store(recording: bool = False) -> ClickHouseLogStore:
    """The process's ClickHouse store with its tables emptied; `recording` wraps its executor."""
    shared = _shared_store()
    executor = shared.executor
    for table in ("logs_record", "logs_span"):
        executor.execute(f"TRUNCATE TABLE {table}")
    if recording:
        inner = executor.inner if isinstance(executor, RecordingExecutor) else executor
        return ClickHouseLogStore(RecordingExecutor(inner))  # type: ignore[arg-type]
    return shared
