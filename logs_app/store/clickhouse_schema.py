"""The ClickHouse store's tables, as versioned migrations applied in order (`schema_version` records them).

Layout, for org-first reads at volume:

- Time is integer microseconds since the epoch (`time_us`, `start_us`), as in the SQL stores: the same
  cursors, record ids and compiled queries on every engine.
- MergeTree, one partition per day: retention of the longest-kept org drops whole
  partitions; a search over hours reads only its days.
- `ORDER BY (org_id, time_us, id)`: every read starts with the org and a time range, so the primary index
  narrows it to that org's granules; rows of one org and day sit together and compress well.
- Codecs: DoubleDelta on the (sorted) times and snowflake ids, ZSTD on text; LowCardinality for
  service, level, kind and status (a dictionary per part instead of the string per row).
- Skip indexes: bloom filters on trace id and correlation id (equality lookups: a trace's logs, a request's
  records), an n-gram bloom filter on `lowerUTF8(body)` (the case-insensitive substring search the language
  compiles text terms to).
- Per-org retention as TTL: each row carries the `retention_days` its org had when it was written (set by the
  store at insert), and `TTL time + retention_days` lets merges drop it. A later change of an org's
  retention applies to new rows; the retention task's `delete_older_than` shortens the older ones.
- `id`: a snowflake id given by the engine at insert (time-ordered, unique per server): the tie-breaker of
  cursors and the record id `context()` takes, and the order in which `tail` delivers records.

On a cluster, create the same tables as `ReplicatedMergeTree` with a `Distributed` table over them (docs);
the statements here are for one server or the in-process engine.
"""

from __future__ import annotations

from logs_app.store.clickhouse_exec import Executor

LOG_TABLE = "logs_record"
SPAN_TABLE = "logs_span"

_LOGS_V1 = """
CREATE TABLE IF NOT EXISTS {db}.logs_record (
    org_id UInt64,
    time_us Int64 CODEC(DoubleDelta, ZSTD(1)),
    id UInt64 DEFAULT generateSnowflakeID() CODEC(DoubleDelta, ZSTD(1)),
    service LowCardinality(String),
    level LowCardinality(String),
    severity_number UInt8,
    body String CODEC(ZSTD(3)),
    trace_id String CODEC(ZSTD(1)),
    span_id String CODEC(ZSTD(1)),
    correlation_id String CODEC(ZSTD(1)),
    user_id String CODEC(ZSTD(1)),
    resource String CODEC(ZSTD(3)),
    attributes String CODEC(ZSTD(3)),
    retention_days UInt16 DEFAULT 14,
    INDEX trace_bf trace_id TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX cid_bf correlation_id TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX body_ngram lowerUTF8(body) TYPE ngrambf_v1(3, 65536, 2, 0) GRANULARITY 1
) ENGINE = MergeTree
PARTITION BY toDate(fromUnixTimestamp64Micro(time_us, 'UTC'))
ORDER BY (org_id, time_us, id)
TTL fromUnixTimestamp64Micro(time_us, 'UTC') + toIntervalDay(retention_days)
SETTINGS index_granularity = 8192
"""

_SPANS_V1 = """
CREATE TABLE IF NOT EXISTS {db}.logs_span (
    org_id UInt64,
    start_us Int64 CODEC(DoubleDelta, ZSTD(1)),
    id UInt64 DEFAULT generateSnowflakeID() CODEC(DoubleDelta, ZSTD(1)),
    end_us Int64 CODEC(Delta, ZSTD(1)),
    duration_ms Float64 CODEC(ZSTD(1)),
    trace_id String CODEC(ZSTD(1)),
    span_id String CODEC(ZSTD(1)),
    parent_span_id String CODEC(ZSTD(1)),
    name LowCardinality(String),
    service LowCardinality(String),
    kind LowCardinality(String),
    status LowCardinality(String),
    status_message String CODEC(ZSTD(3)),
    resource String CODEC(ZSTD(3)),
    attributes String CODEC(ZSTD(3)),
    events String CODEC(ZSTD(3)),
    retention_days UInt16 DEFAULT 14,
    INDEX trace_bf trace_id TYPE bloom_filter(0.001) GRANULARITY 1
) ENGINE = MergeTree
PARTITION BY toDate(fromUnixTimestamp64Micro(start_us, 'UTC'))
ORDER BY (org_id, start_us, id)
TTL fromUnixTimestamp64Micro(start_us, 'UTC') + toIntervalDay(retention_days)
SETTINGS index_granularity = 8192
"""

# (version, what it does, statements). Append only: a released version is never edited.
MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (1, "log and span tables", [_LOGS_V1, _SPANS_V1]),
]


def migrate(executor: Executor) -> list[int]:
    """Apply the migrations not yet recorded in `schema_version`, in order; returns the versions applied."""
    db = executor.database
    executor.execute(f"CREATE DATABASE IF NOT EXISTS {db}")
    executor.execute(f"CREATE TABLE IF NOT EXISTS {db}.schema_version (version UInt32, name String, "
                     "applied_at DateTime DEFAULT now()) ENGINE = MergeTree ORDER BY version")
    done = {int(r[0]) for r in executor.execute(f"SELECT version FROM {db}.schema_version")}  # noqa: S608
    applied = []
    for version, name, statements in MIGRATIONS:
        if version in done:
            continue
        for sql in statements:
            executor.execute(sql.format(db=db))
        executor.insert("schema_version", ("version", "name"), [(version, name)])
        applied.append(version)
    return applied
