# ruff: noqa: S608 - SQL is assembled from constant table/column names and the search-language compiler's
# fragments; every value is a bound parameter.
"""Exceptions recorded on spans (OpenTelemetry's `exception` span events), grouped by type and service.

Counted in the store, one statement per question: the spans of the window that match the query are
selected first (org condition, time range and the search-language filter on the span table, the same
fragment as trace search), then their events are unnested in SQL (PostgreSQL `jsonb_array_elements`,
SQLite `json_each`, ClickHouse `ARRAY JOIN`) and only `exception` events are counted per bucket. A second
bounded query gives the newest examples (trace, span, message) for each group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from logs_app.query.ast import Node
from logs_app.store.records import from_us, to_us
from logs_app.store.sqlbase import SPAN_TABLE

if TYPE_CHECKING:
    from portal.tenancy.models import Organization

EXAMPLE_ROWS = 500  # newest exception events read for examples (bounded whatever the window)
EXAMPLES_PER_GROUP = 5
UNKNOWN = "(no exception.type)"


@dataclass
class ExceptionExample:
    trace_id: str
    span_id: str
    span_name: str
    time: datetime
    message: str


@dataclass
class ExceptionGroup:
    type: str
    service: str
    count: int
    series: list[int]
    last_seen: datetime
    examples: list[ExceptionExample] = field(default_factory=list)


@dataclass
class ExceptionReport:
    start: datetime
    step_ms: float
    total: int
    groups: list[ExceptionGroup]


# Per store: how to unnest the events of the selected spans `s` (columns: service, trace_id, span_id,
# name, start_us and the events) into rows with `etype` and `emsg`, keeping only exception events.
_EXPLODE = {
    "postgres": ("FROM ({spans}) s CROSS JOIN LATERAL jsonb_array_elements(s.events) AS e(ev) "
                 "WHERE e.ev->>'name' = 'exception'",
                 "COALESCE(e.ev->'attributes'->>'exception.type', '')",
                 "COALESCE(e.ev->'attributes'->>'exception.message', '')"),
    "sqlite": ("FROM ({spans}) s, json_each(s.events) AS e WHERE json_extract(e.value, '$.name') = 'exception'",
               "COALESCE(json_extract(e.value, '$.attributes.\"exception.type\"'), '')",
               "COALESCE(json_extract(e.value, '$.attributes.\"exception.message\"'), '')"),
    "clickhouse": ("FROM ({spans}) AS s ARRAY JOIN JSONExtractArrayRaw(s.events) AS ev "
                   "WHERE JSONExtractString(ev, 'name') = 'exception'",
                   "JSONExtractString(ev, 'attributes', 'exception.type')",
                   "JSONExtractString(ev, 'attributes', 'exception.message')"),
    "clickhouse-otel": ("FROM ({spans}) AS s ARRAY JOIN s.event_names AS en, s.event_attributes AS ea "
                        "WHERE en = 'exception'",
                        "ea['exception.type']", "ea['exception.message']"),
}
# A cheap pre-filter on the span row before unnesting (spans without an exception event are most).
_HAS_EXCEPTION = {
    "postgres": "events @> '[{\"name\": \"exception\"}]'::jsonb",
    "sqlite": "instr(events, '\"exception\"') > 0",
    "clickhouse": "position(events, '\"exception\"') > 0",
    "clickhouse-otel": "has(event_names, 'exception')",
}


def _spans(store: Any, org: Organization, where: str, s_us: int, e_us: int) -> tuple[str, list[Any]]:
    """The org's spans of the window matching the query, as a subquery with the columns used here."""
    kind = store.name
    if kind == "clickhouse-otel":
        view, params = store._view("spans", org, s_us, e_us)
        return (f"SELECT service, trace_id, span_id, name, start_us, event_names, event_attributes FROM {view} v "
                f"WHERE {_HAS_EXCEPTION[kind]} AND {where}"), params
    return (f"SELECT service, trace_id, span_id, name, start_us, events FROM {SPAN_TABLE} WHERE org_id = %s "
            f"AND start_us >= %s AND start_us < %s AND {_HAS_EXCEPTION[kind]} AND {where}"), [org.pk, s_us, e_us]


def _rows(store: Any, sql: str, params: Sequence[Any]) -> list[Sequence[Any]]:
    rows = store._run(sql, params)
    return list(rows)


def find_exceptions(store: Any, org: Organization, query: str | Node, start: datetime, end: datetime,
                    buckets: int = 60, top: int = 50) -> ExceptionReport:
    """The `top` (type, service) groups by count in [start, end), each with counts per bucket."""
    if store.name not in _EXPLODE:
        raise NotImplementedError(f"The {store.name} store does not group exceptions")
    where, qparams = store._where(query, target="spans")
    s_us, e_us = to_us(start), to_us(end)
    step = max(1, -(-(e_us - s_us) // max(1, buckets)))
    spans, sparams = _spans(store, org, where, s_us, e_us)
    explode, etype, emsg = _EXPLODE[store.name]
    source = explode.format(spans=spans)
    bucket = "intDiv(s.start_us - %s, %s)" if store.name.startswith("clickhouse") else "(s.start_us - %s) / %s"
    counts = _rows(store, f"SELECT {etype} AS t, s.service, {bucket} AS b, count(*), max(s.start_us) {source} "
                          "GROUP BY t, s.service, b", [s_us, step, *sparams, *qparams])
    groups: dict[tuple[str, str], ExceptionGroup] = {}
    for t, service, b, n, last in counts:
        key = (str(t or "") or UNKNOWN, str(service))
        g = groups.get(key)
        if g is None:
            g = groups[key] = ExceptionGroup(key[0], key[1], 0, [0] * buckets, from_us(int(last)))
        g.count += int(n)
        g.last_seen = max(g.last_seen, from_us(int(last)))
        if 0 <= int(b) < buckets:
            g.series[int(b)] += int(n)
    ranked = sorted(groups.values(), key=lambda g: (-g.count, g.type, g.service))[:top]
    if ranked:
        examples = _rows(store, f"SELECT {etype} AS t, s.service, s.trace_id, s.span_id, s.name, s.start_us, "
                                f"{emsg} {source} ORDER BY s.start_us DESC LIMIT %s",
                         [*sparams, *qparams, EXAMPLE_ROWS])
        for t, service, trace_id, span_id, name, start_us, message in examples:
            g = groups.get((str(t or "") or UNKNOWN, str(service)))
            if g is not None and len(g.examples) < EXAMPLES_PER_GROUP:
                g.examples.append(ExceptionExample(str(trace_id), str(span_id), str(name),
                                                   from_us(int(start_us)), str(message or "")))
    return ExceptionReport(start, step / 1000.0, sum(g.count for g in groups.values()), ranked)
