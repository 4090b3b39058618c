"""DDL of the store tables for each engine; run by the migrations logs_app/0002_store, 0003 and 0005."""

from __future__ import annotations

from typing import Any

_COMMON_LOG = """
    org_id bigint NOT NULL,
    time_us bigint NOT NULL,
    service text NOT NULL DEFAULT '',
    level text NOT NULL DEFAULT 'info',
    severity_number smallint NOT NULL DEFAULT 0,
    body text NOT NULL DEFAULT '',
    trace_id text NOT NULL DEFAULT '',
    span_id text NOT NULL DEFAULT '',
    correlation_id text NOT NULL DEFAULT '',
    user_id text NOT NULL DEFAULT '',
"""
_COMMON_SPAN = """
    org_id bigint NOT NULL,
    trace_id text NOT NULL,
    span_id text NOT NULL,
    parent_span_id text NOT NULL DEFAULT '',
    name text NOT NULL DEFAULT '',
    service text NOT NULL DEFAULT '',
    kind text NOT NULL DEFAULT 'internal',
    status text NOT NULL DEFAULT 'unset',
    status_message text NOT NULL DEFAULT '',
    start_us bigint NOT NULL,
    end_us bigint NOT NULL,
    duration_ms double precision NOT NULL DEFAULT 0,
"""
_INDEXES = [
    "CREATE INDEX logs_record_org_time ON logs_record (org_id, time_us DESC, id DESC)",
    "CREATE INDEX logs_record_org_svc_level ON logs_record (org_id, service, level, time_us DESC)",
    # No (org, level, time) index: level-only searches walk (org, time) newest first and stop at the page
    # size; each btree costs ~5 µs per ingested record, and ingest rate is what it would cost.
    "CREATE INDEX logs_record_trace ON logs_record (org_id, trace_id) WHERE trace_id <> ''",
    "CREATE INDEX logs_record_cid ON logs_record (org_id, correlation_id) WHERE correlation_id <> ''",
    "CREATE INDEX logs_record_user ON logs_record (org_id, user_id, time_us DESC) WHERE user_id <> ''",
    "CREATE INDEX logs_span_trace ON logs_span (org_id, trace_id)",
    "CREATE INDEX logs_span_org_start ON logs_span (org_id, start_us DESC)",
    "CREATE INDEX logs_span_org_svc ON logs_span (org_id, service, start_us DESC)",
]

POSTGRES = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE SEQUENCE logs_record_id_seq",
    "CREATE SEQUENCE logs_span_id_seq",
    "CREATE TABLE logs_record (id bigint NOT NULL DEFAULT nextval('logs_record_id_seq')," + _COMMON_LOG
    + " resource jsonb NOT NULL DEFAULT '{}', attributes jsonb NOT NULL DEFAULT '{}') PARTITION BY RANGE (time_us)",
    "CREATE TABLE logs_span (id bigint NOT NULL DEFAULT nextval('logs_span_id_seq')," + _COMMON_SPAN
    + " resource jsonb NOT NULL DEFAULT '{}', attributes jsonb NOT NULL DEFAULT '{}',"
    " events jsonb NOT NULL DEFAULT '[]') PARTITION BY RANGE (start_us)",
    *_INDEXES,
    "CREATE INDEX logs_record_body_trgm ON logs_record USING gin (body gin_trgm_ops)",
]
POSTGRES_DROP = ["DROP TABLE IF EXISTS logs_record CASCADE", "DROP TABLE IF EXISTS logs_span CASCADE",
                 "DROP SEQUENCE IF EXISTS logs_record_id_seq", "DROP SEQUENCE IF EXISTS logs_span_id_seq"]

SQLITE = [
    "CREATE TABLE logs_record (id INTEGER PRIMARY KEY AUTOINCREMENT," + _COMMON_LOG
    + " resource text NOT NULL DEFAULT '{}', attributes text NOT NULL DEFAULT '{}')",
    "CREATE TABLE logs_span (id INTEGER PRIMARY KEY AUTOINCREMENT," + _COMMON_SPAN
    + " resource text NOT NULL DEFAULT '{}', attributes text NOT NULL DEFAULT '{}', events text NOT NULL DEFAULT '[]')",
    *[i.replace(" DESC", "") for i in _INDEXES],
]
SQLITE_DROP = ["DROP TABLE IF EXISTS logs_record", "DROP TABLE IF EXISTS logs_span"]


# Migration 0003: trace and correlation ids are looked up by equality only, so PostgreSQL gets hash indexes
# for them: a hash entry is a 4-byte code (a B-tree entry carries the whole 32-character id) and an insert
# needs no string comparisons. In bench/ingest.py the two cost ~1.5 µs per record less than the B-trees.
# The org condition is checked on the rows found (ids are random; another org sharing one is harmless).
POSTGRES_HASH_IDS = [
    "DROP INDEX IF EXISTS logs_record_trace",
    "DROP INDEX IF EXISTS logs_record_cid",
    "CREATE INDEX logs_record_trace ON logs_record USING hash (trace_id) WHERE trace_id <> ''",
    "CREATE INDEX logs_record_cid ON logs_record USING hash (correlation_id) WHERE correlation_id <> ''",
]
POSTGRES_BTREE_IDS = [
    "DROP INDEX IF EXISTS logs_record_trace",
    "DROP INDEX IF EXISTS logs_record_cid",
    *(i for i in _INDEXES if i.startswith(("CREATE INDEX logs_record_trace ", "CREATE INDEX logs_record_cid "))),
]


def hash_id_indexes(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        for sql in POSTGRES_HASH_IDS:
            schema_editor.execute(sql)


def btree_id_indexes(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        for sql in POSTGRES_BTREE_IDS:
            schema_editor.execute(sql)


def create(apps: Any, schema_editor: Any) -> None:
    statements = POSTGRES if schema_editor.connection.vendor == "postgresql" else SQLITE
    for sql in statements:
        schema_editor.execute(sql)


def drop(apps: Any, schema_editor: Any) -> None:
    statements = POSTGRES_DROP if schema_editor.connection.vendor == "postgresql" else SQLITE_DROP
    for sql in statements:
        schema_editor.execute(sql)


# Migration 0005: the service pages (logs_app/store/service_stats.py, docs/services.md) answered from indexes
# alone. A service's spans lie on every heap page of the day, so each aggregate read the day's whole heap;
# these indexes hold what the aggregates read, in (org, service, time) order, so PostgreSQL answers them with
# index-only scans (heap pages are visited only where autovacuum has not yet marked them all-visible).
# - `endpoint`: a request's endpoint (`METHOD http.route`, else the span name), stored at ingest by PostgreSQL
#   itself (a generated column: the writers do not change; adding it computes it for the rows already there).
#   The expression is the one service_stats.Dialect.endpoint() spells for the other engines; it is written
#   out here so that this migration stays what it was when applied.
# - `logs_span_requests`: entry spans only (a quarter of the spans), with what the totals, series, endpoints,
#   slowest requests and the services list read.
# - `logs_span_org_svc` gains what the slowest operations read (every span of the service).
SPAN_ENDPOINT = ("CASE WHEN COALESCE((attributes->>'http.route'), '') <> '' THEN "
                 "COALESCE(NULLIF((attributes->>'http.request.method'), '') || ' ', "
                 "NULLIF((attributes->>'http.method'), '') || ' ', '') || (attributes->>'http.route') ELSE name END")
SPAN_ENTRY = "(kind IN ('server', 'consumer') OR parent_span_id = '')"
POSTGRES_SERVICE_INDEXES = [
    f"ALTER TABLE logs_span ADD COLUMN IF NOT EXISTS endpoint text GENERATED ALWAYS AS ({SPAN_ENDPOINT}) STORED",
    "DROP INDEX IF EXISTS logs_span_org_svc",
    "CREATE INDEX logs_span_org_svc ON logs_span (org_id, service, start_us DESC) INCLUDE (name, duration_ms, status)",
    "CREATE INDEX logs_span_requests ON logs_span (org_id, service, start_us DESC) "
    f"INCLUDE (duration_ms, status, endpoint, trace_id, span_id, name) WHERE {SPAN_ENTRY}",
]
POSTGRES_SERVICE_INDEXES_DROP = [
    "DROP INDEX IF EXISTS logs_span_requests",
    "DROP INDEX IF EXISTS logs_span_org_svc",
    *(i for i in _INDEXES if i.startswith("CREATE INDEX logs_span_org_svc ")),
    "ALTER TABLE logs_span DROP COLUMN IF EXISTS endpoint",
]


def service_indexes(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        for sql in POSTGRES_SERVICE_INDEXES:
            schema_editor.execute(sql)


def drop_service_indexes(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        for sql in POSTGRES_SERVICE_INDEXES_DROP:
            schema_editor.execute(sql)
