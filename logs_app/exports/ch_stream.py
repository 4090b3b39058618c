# ruff: noqa: S608 - the SQL is this module's constants and the store's compiled filter; values are bound
"""The ClickHouse fast path of an export: the engine formats, compresses and writes the file.

As on PostgreSQL (pg_stream), decoding every row into a `LogRecord` and re-encoding it in Python caps an
export near 40,000 lines/s. On the ClickHouse store the SELECT (the store's own filter, org condition and
(time, id) order) runs with `INTO OUTFILE … COMPRESSION 'gzip' FORMAT CSV` (a server streams the same
formats over HTTP): the engine writes the rows block by block, so memory stays constant on both sides.

The window is cut into parts of about PART_ROWS rows (from a count per hour), one statement each, so the
task reports progress, honours a cancel and checks the quota between parts; each part is a complete gzip
member and the parts are concatenated (writer.PartsWriter). Rows are read up to the highest id present
when the export started, so late arrivals cannot make the parts disagree with the counts.

Columns, values, formula escaping and the CSV header are those of writer.ExportWriter; the engine quotes every
CSV field and escapes `/` in JSON, which parse to the same values (tests compare both paths parsed).
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import datetime
from typing import Any

from logs_app.exports.writer import PartsWriter
from logs_app.store.clickhouse_exec import bind
from logs_app.store.clickhouse_schema import LOG_TABLE
from logs_app.store.records import to_us
from portal.tenancy.models import Organization

PART_ROWS = 1_000_000
HOUR_US = 3_600_000_000

# A cell a spreadsheet would run as a formula gets a leading quote (as writer.escape_cell does).
_FORMULA = "if(substring({x}, 1, 1) IN ('=', '+', '-', '@', '\\t', '\\r'), concat('''', {x}), {x})"
_TS = "formatDateTime(fromUnixTimestamp64Micro(time_us, 'UTC'), '%Y-%m-%dT%H:%i:%S.%f+00:00', 'UTC')"
# level is one of LEVELS and the ids are hex (the store normalises both); a non-empty attributes object
# starts with "{", never a formula.
_CSV_COLUMNS = ", ".join([
    _TS, "level", _FORMULA.format(x="service"), _FORMULA.format(x="body"), "trace_id", "span_id",
    _FORMULA.format(x="correlation_id"), "if(attributes IN ('', '{}'), '', attributes)",
])
# One JSON object per line, built by the engine; attributes are stored as compact JSON text already.
_NDJSON_COLUMN = "concat(" + ", ',', ".join(
    [f"'{{\"timestamp\":', toJSONString({_TS})"]
    + [f"'\"{name}\":', toJSONString({col})" for name, col in (
        ("level", "level"), ("service", "service"), ("message", "body"), ("trace_id", "trace_id"),
        ("span_id", "span_id"), ("correlation_id", "correlation_id"))]
    + ["'\"attributes\":', if(attributes IN ('', '{}'), '{}', attributes)"]) + ", '}')"
_FORMATS = {"csv": (_CSV_COLUMNS, "CSV"), "ndjson": (_NDJSON_COLUMN, "TabSeparatedRaw")}


def supports(store: Any) -> bool:
    """The fast path needs the ClickHouse store's own table and an executor that can write files."""
    return getattr(store, "name", "") == "clickhouse" and hasattr(getattr(store, "executor", None), "export_file")


def plan_parts(hours: list[tuple[int, int]], s_us: int, e_us: int, part_rows: int) -> list[tuple[int, int, int]]:
    """(start_us, end_us, rows) windows covering [s_us, e_us) in order, cut at hour boundaries once a part
    holds `part_rows`; `hours` is (hour index, rows) ascending. One part (maybe empty) at least."""
    parts: list[tuple[int, int, int]] = []
    start, rows = s_us, 0
    for hour, n in hours:
        rows += n
        if rows >= part_rows:
            end = min(e_us, (hour + 1) * HOUR_US)
            parts.append((start, end, rows))
            start, rows = end, 0
    if start < e_us or not parts:
        parts.append((start, e_us, rows))
    return parts


def iter_parts(store: Any, writer: PartsWriter, org: Organization, query: str, start: datetime, end: datetime,
               fmt: str, part_rows: int = PART_ROWS) -> Generator[int, None, None]:
    """Have the engine write each part beside the export and append it; yields the running line count."""
    where, params = store._where(query)
    s_us, e_us = to_us(start), to_us(end)
    high = store._run(f"SELECT max(id) FROM {LOG_TABLE} WHERE org_id = %s AND time_us >= %s AND time_us < %s",
                      [org.pk, s_us, e_us], fetch="one")
    high_id = int(high[0] or 0) if high else 0
    cond = f"org_id = %s AND time_us >= %s AND time_us < %s AND id <= %s AND ({where})"
    hours = store._run(f"SELECT intDiv(time_us, {HOUR_US}) AS h, count() FROM {LOG_TABLE} WHERE {cond} "
                       "GROUP BY h ORDER BY h", [org.pk, s_us, e_us, high_id, *params])
    select, engine_format = _FORMATS[fmt]
    for i, (a_us, b_us, rows) in enumerate(plan_parts([(int(h), int(n)) for h, n in hours], s_us, e_us, part_rows)):
        text, values = bind(f"SELECT {select} FROM {LOG_TABLE} WHERE {cond} ORDER BY time_us, id",
                            [org.pk, a_us, b_us, high_id, *params])
        part = writer.part_path(i)
        store.executor.export_file(text, values, engine_format, part, writer.use_gzip)
        writer.append_part(part, rows)
        yield writer.rows
