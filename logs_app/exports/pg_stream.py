"""The PostgreSQL fast path of an export: PostgreSQL formats each line, Python only compresses.

Decoding every row into a `LogRecord` (JSON parse of two jsonb columns, a datetime, a dataclass) and
re-encoding it caps an export near 40,000 lines/s in Python. On the PostgreSQL store the same rows are
read through a server-side cursor whose single column is the finished CSV or NDJSON line, built by the
database: the same filter (the store's own query compiler), the same order (time, id), the same org
condition, the same columns and formula escaping as `writer.ExportWriter` (tests compare the two paths).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.db import connection, transaction

from logs_app.store.records import to_us
from portal.tenancy.models import Organization

BATCH = 10_000

# A cell a spreadsheet would run as a formula gets a leading quote (as writer.escape_cell does).
_FORMULA = "CASE WHEN left({x}, 1) IN ('=', '+', '-', '@', E'\\t', E'\\r') THEN '''' || {x} ELSE {x} END"
# CSV quoting exactly as Python's csv.QUOTE_MINIMAL: only cells holding , " CR or LF are quoted.
_QUOTE = "CASE WHEN {x} ~ '[\",\\r\\n]' THEN '\"' || replace({x}, '\"', '\"\"') || '\"' ELSE {x} END"
_TS = "to_char(timestamp '1970-01-01' + time_us * interval '1 microsecond', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') || '+00:00'"
_ATTRS = "CASE WHEN attributes = '{}'::jsonb THEN '' ELSE attributes::text END"


def _csv_cell(expr: str, escape: bool) -> str:
    inner = _FORMULA.format(x=f"({expr})") if escape else f"({expr})"
    return _QUOTE.format(x=f"({inner})")


_CSV_LINE = "concat_ws(',', {cells}) || E'\\n'".format(cells=", ".join([
    _TS, _csv_cell("level", False), _csv_cell("service", True), _csv_cell("body", True),
    _csv_cell("trace_id", False), _csv_cell("span_id", False), _csv_cell("correlation_id", True),
    _csv_cell(_ATTRS, True),
]))
_NDJSON_LINE = (f"json_build_object('timestamp', {_TS}, 'level', level, 'service', service, 'message', body, "
                "'trace_id', trace_id, 'span_id', span_id, 'correlation_id', correlation_id, "
                "'attributes', attributes)::text || E'\\n'")


def supports(store: Any) -> bool:
    """The fast path needs the built-in PostgreSQL store (its table and its query compiler)."""
    return getattr(store, "name", "") == "postgres" and connection.vendor == "postgresql" and hasattr(store, "_where")


def iter_chunks(store: Any, org: Organization, query: str, start: datetime, end: datetime, fmt: str,
                batch: int = BATCH) -> Iterator[tuple[str, int]]:
    """(text, lines) chunks of finished lines, oldest first, from a server-side cursor (constant memory)."""
    from logs_app.store.sqlbase import LOG_TABLE

    where, params = store._where(query)
    line = _CSV_LINE if fmt == "csv" else _NDJSON_LINE
    sql = (f"SELECT {line} FROM {LOG_TABLE} WHERE org_id = %s AND time_us >= %s AND time_us < %s "  # noqa: S608
           f"AND {where} ORDER BY time_us, id")
    # A named cursor lives in a transaction; the store's iter_records holds one the same way.
    with transaction.atomic(), connection.chunked_cursor() as cur:
        cur.execute(sql, [org.pk, to_us(start), to_us(end), *params])
        while True:
            rows = cur.fetchmany(batch)
            if not rows:
                return
            yield "".join([r[0] for r in rows]), len(rows)
