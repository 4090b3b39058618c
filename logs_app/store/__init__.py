"""The log/trace store: `get_store()` returns the configured `LogStore` (see base.py for the contract).

`LOGS_STORE` = "auto" (default: PostgreSQL when the default database is PostgreSQL, else SQLite),
"postgres" or "sqlite", or a dotted path to a `LogStore` subclass (a Loki/Tempo adapter).
`LOGS_STORE_URL`, when set, selects the ClickHouse store instead (clickhouse_exec.py): `chdb:///dir` runs
the engine in process, `clickhouse://host:8123/db` talks to a server; `?layout=otel` reads the OpenTelemetry
Collector's `otel_logs` / `otel_traces` tables instead (clickhouse_otel.py).
"""

from __future__ import annotations

import functools

from django.conf import settings
from django.db import connection
from django.utils.module_loading import import_string

from logs_app.store.base import LogStore

__all__ = ["LogStore", "get_store"]


@functools.cache
def _store_for(kind: str, vendor: str, url: str = "") -> LogStore:
    if url:
        from logs_app.store.clickhouse_otel import is_otel_url, otel_store_from_url

        if is_otel_url(url):
            return otel_store_from_url(url)
        from logs_app.store.clickhouse import ClickHouseLogStore
        from logs_app.store.clickhouse_exec import executor_from_url

        return ClickHouseLogStore(executor_from_url(url))
    if kind == "auto":
        kind = "postgres" if vendor == "postgresql" else "sqlite"
    if kind == "postgres":
        from logs_app.store.postgres import PostgresLogStore

        return PostgresLogStore()
    if kind == "sqlite":
        from logs_app.store.sqlite import SQLiteLogStore

        return SQLiteLogStore()
    cls = import_string(kind)
    store: LogStore = cls()
    return store


def get_store() -> LogStore:
    """The store for this process. Stateless apart from configuration, so one instance is shared."""
    return _store_for(getattr(settings, "LOGS_STORE", "auto"), connection.vendor,
                      getattr(settings, "LOGS_STORE_URL", ""))
