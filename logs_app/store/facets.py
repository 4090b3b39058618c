# ruff: noqa: S608 - SQL is assembled from constant table/column names and compiled query fragments whose
# values (attribute keys included) are all bound parameters; nothing user-supplied is interpolated.
"""Log analytics over the built-in stores: facets (top values of service, level and attributes) and counts
over time grouped by a field.

One statement per call, in the store's own SQL, every value bound, the org condition inside it (the SQL
stores' `org_id = %s`, the Collector layout's org-scoped view). The per-engine parts are small: how a record's
attributes become (key, value) rows and how a time becomes a bucket.

Bounds, so that a huge window costs the same as a small one:

- Facets are computed over a row sample: the newest `sample` records matching the query in the window
  (read newest first along the (org, time) index, as a search page is). The answer says how many records
  the sample held and whether it was the whole match (`complete`): then the counts are exact.
- Counts over time are exact; the series are the `top` values by total over the window, and everything
  else is one "other" series (value None), so the answer has at most (top + 1) x buckets numbers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from logs_app.query.ast import Node
from logs_app.query.sql import LOG_COLUMNS, Dialect
from logs_app.store.base import LogStore
from logs_app.store.records import from_us, to_us

if TYPE_CHECKING:
    from portal.tenancy.models import Organization

DEFAULT_SAMPLE = 10_000
MAX_SAMPLE = 100_000
DEFAULT_TOP = 10
MAX_TOP = 50
MAX_FIELD_LENGTH = 200
# Fields a search term names the same way (parser.py's field names); the column fields are case-insensitive.
_FIELD_NAME = re.compile(r"^[A-Za-z_@][A-Za-z0-9_.\-@/]*\Z")
_NOT_GROUPABLE = {"body", "message", "msg", "org"}


class FacetsUnsupported(Exception):
    """The configured store has no analytics implementation (a third-party adapter)."""


class InvalidField(ValueError):
    """A field to group by that the search language could not name, or that makes no groups (the body)."""


@dataclass
class FacetValue:
    value: str | None
    count: int


@dataclass
class AttributeFacet:
    key: str
    count: int  # sampled records that have the key
    values: list[FacetValue] = field(default_factory=list)


@dataclass
class Facets:
    sample_limit: int
    sampled: int  # records in the sample
    complete: bool  # the sample is every matching record: the counts are exact
    service: list[FacetValue]
    level: list[FacetValue]
    attributes: list[AttributeFacet]


@dataclass
class Series:
    value: str | None  # None: every value outside the top ones ("other")
    total: int
    counts: list[int]


@dataclass
class GroupedCounts:
    field: str
    start: datetime
    step_us: int
    buckets: list[datetime]
    series: list[Series]


def group_expression(dialect: Dialect, name: str, params: list[Any]) -> str:
    """The SQL of a field to group by (a column, else an attribute), adding its bound key to `params`.
    Raises InvalidField for names the search language could not name, or that make no groups (the body)."""
    if not name or len(name) > MAX_FIELD_LENGTH or not _FIELD_NAME.match(name):
        raise InvalidField(f"Invalid field name {name[:80]!r}: letters, digits and _ . - @ / only")
    lower = name.lower()
    if lower in _NOT_GROUPABLE:
        raise InvalidField(f"Cannot group by {name}: pick service, level or an attribute")
    column = LOG_COLUMNS.get(lower)
    if column is not None:
        return column
    key = name
    for prefix in ("attr.", "attributes.", "resource."):
        if lower.startswith(prefix):
            key = name[len(prefix):]
            break
    if not key:
        raise InvalidField(f"Invalid field name {name!r}")
    return dialect.attr_text(params, key)


# -- per engine ------------------------------------------------------------------------------------------

class _Engine:
    """How one store's log rows are addressed: `source()` is `<table or view> WHERE <org and window>`."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.dialect: Dialect = store.dialect

    def source(self, org: Organization, s_us: int, e_us: int) -> tuple[str, list[Any]]:
        return "logs_record WHERE org_id = %s AND time_us >= %s AND time_us < %s", [org.pk, s_us, e_us]

    def bucket(self) -> str:
        return "(time_us - %s) / %s"

    def pairs(self) -> str:
        """`SELECT k, v FROM s ...`: one row per (sampled record, attribute key), values as text."""
        raise NotImplementedError

    def run(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        return list(self.store._run(sql, params))

    def where(self, query: str | Node) -> tuple[str, list[Any]]:
        where, params = self.store._where(query)
        return where, list(params)


class _Postgres(_Engine):
    def pairs(self) -> str:
        return "SELECT e.key AS k, e.value AS v FROM s CROSS JOIN LATERAL jsonb_each_text(s.attributes) AS e"


class _SQLite(_Engine):
    def pairs(self) -> str:
        # As the compiler's attr_text reads them (json_extract as text): true/false are 1/0 here.
        return ("SELECT e.key AS k, CAST(e.value AS TEXT) AS v FROM s, json_each(s.attributes) AS e "
                "WHERE json_valid(s.attributes) AND json_type(s.attributes) = 'object'")


class _ClickHouse(_Engine):
    def bucket(self) -> str:
        return "intDiv(time_us - %s, %s)"

    def pairs(self) -> str:
        # Attributes are JSON text here: strings unquoted, anything else as its JSON (what attr_text compares).
        return ("SELECT kv.1 AS k, if(JSONType(kv.2) = 'String', JSONExtractString(kv.2), kv.2) AS v "
                "FROM s ARRAY JOIN JSONExtractKeysAndValuesRaw(s.attributes) AS kv")


class _ClickHouseOtel(_ClickHouse):
    def source(self, org: Organization, s_us: int, e_us: int) -> tuple[str, list[Any]]:
        view, params = self.store._view("logs", org, s_us, e_us)
        return f"{view} AS src WHERE 1 = 1", params

    def pairs(self) -> str:
        # The exporter's attributes are a Map(String, String).
        return "SELECT k, s.attributes[k] AS v FROM s ARRAY JOIN mapKeys(s.attributes) AS k"

    def run(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        return self.store._run(sql, params)  # type: ignore[no-any-return]


def _engine(store: LogStore) -> _Engine:
    kinds: dict[str, type[_Engine]] = {"postgres": _Postgres, "sqlite": _SQLite, "clickhouse": _ClickHouse,
                                       "clickhouse-otel": _ClickHouseOtel}
    kind = kinds.get(store.name)
    if kind is None:
        raise FacetsUnsupported(f"The {store.name} log store has no facets or grouped counts.")
    return kind(store)


# -- facets ----------------------------------------------------------------------------------------------

def facets(store: LogStore, org: Organization, query: str | Node, start: datetime, end: datetime,
           top: int = DEFAULT_TOP, keys: int = DEFAULT_TOP, sample: int = DEFAULT_SAMPLE) -> Facets:
    """Top `top` services, levels and values of the `keys` most frequent attribute keys, over the newest
    `sample` matching records."""
    eng = _engine(store)
    where, wparams = eng.where(query)
    src, sparams = eng.source(org, to_us(start), to_us(end))
    sql = (
        f"WITH s AS (SELECT service, level, attributes FROM {src} AND {where} ORDER BY time_us DESC LIMIT %s), "
        f"kv AS ({eng.pairs()}), "
        "topk AS (SELECT k, count(*) AS n FROM kv GROUP BY k ORDER BY n DESC, k LIMIT %s), "
        "g AS (SELECT 's' AS kind, '' AS k, service AS v, count(*) AS n FROM s GROUP BY service "
        "UNION ALL SELECT 'l' AS kind, '' AS k, level AS v, count(*) AS n FROM s GROUP BY level "
        "UNION ALL SELECT 'a' AS kind, k, v, count(*) AS n FROM kv WHERE k IN (SELECT k FROM topk) GROUP BY k, v), "
        "r AS (SELECT kind, k, v, n, row_number() OVER (PARTITION BY kind, k ORDER BY n DESC, v) AS rn FROM g) "
        "SELECT kind, k, v, n FROM r WHERE rn <= %s "
        "UNION ALL SELECT 'k' AS kind, k, '' AS v, n FROM topk "
        "UNION ALL SELECT 't' AS kind, '' AS k, '' AS v, count(*) AS n FROM s"
    )
    rows = eng.run(sql, [*sparams, *wparams, sample, keys, top])
    service: list[FacetValue] = []
    level: list[FacetValue] = []
    key_counts: dict[str, int] = {}
    values: dict[str, list[FacetValue]] = {}
    sampled = 0
    for kind, k, v, n in rows:
        n = int(n)
        if kind == "t":
            sampled = n
        elif kind == "k":
            key_counts[str(k)] = n
        elif kind == "s":
            service.append(FacetValue(_text(v), n))
        elif kind == "l":
            level.append(FacetValue(_text(v), n))
        else:
            values.setdefault(str(k), []).append(FacetValue(_text(v), n))
    order = sorted(key_counts, key=lambda key: (-key_counts[key], key))
    attributes = [AttributeFacet(key, key_counts[key], _ranked(values.get(key, []))) for key in order]
    return Facets(sample_limit=sample, sampled=sampled, complete=sampled < sample, service=_ranked(service),
                  level=_ranked(level), attributes=attributes)


def _text(v: Any) -> str | None:
    return None if v is None else str(v)


def _ranked(values: list[FacetValue]) -> list[FacetValue]:
    return sorted(values, key=lambda f: (-f.count, f.value is None, f.value or ""))


# -- counts over time by a field -------------------------------------------------------------------------

def grouped_counts(store: LogStore, org: Organization, query: str | Node, start: datetime, end: datetime,
                   group_by: str, buckets: int = 60, top: int = DEFAULT_TOP) -> GroupedCounts:
    """Matching records per time bucket, one series per value of `group_by` for its `top` values (by total
    over the window), the rest summed in one series with value None. A record without the field counts
    under the value "" (its own series when among the top ones)."""
    eng = _engine(store)
    where, wparams = eng.where(query)
    gparams: list[Any] = []
    expr = group_expression(eng.dialect, group_by, gparams)
    s_us, e_us = to_us(start), to_us(end)
    step = max(1, -(-(e_us - s_us) // max(1, buckets)))
    src, sparams = eng.source(org, s_us, e_us)
    sql = (
        f"WITH g AS (SELECT {eng.bucket()} AS b, COALESCE({expr}, '') AS v, count(*) AS n "
        f"FROM {src} AND {where} GROUP BY b, v), "
        "t AS (SELECT v, sum(n) AS total FROM g GROUP BY v ORDER BY total DESC, v LIMIT %s) "
        "SELECT b, CASE WHEN v IN (SELECT v FROM t) THEN 1 ELSE 0 END AS is_top, "
        "CASE WHEN v IN (SELECT v FROM t) THEN v ELSE '' END AS sv, sum(n) AS n FROM g GROUP BY b, is_top, sv"
    )
    rows = eng.run(sql, [s_us, step, *gparams, *sparams, *wparams, top])
    by_value: dict[str | None, list[int]] = {}
    for b, is_top, v, n in rows:
        i = int(b)
        if not 0 <= i < buckets:
            continue
        key = str(v) if int(is_top) else None
        by_value.setdefault(key, [0] * buckets)[i] += int(n)
    series = [Series(v, sum(c), c) for v, c in by_value.items()]
    series.sort(key=lambda s: (s.value is None, -s.total, s.value or ""))
    return GroupedCounts(field=group_by, start=start, step_us=step,
                         buckets=[from_us(s_us + i * step) for i in range(buckets)], series=series)
