# ruff: noqa: S608 - the SQL text is code constants (the unit table); keys, units, the pattern and thresholds
# are bound parameters.
"""SQL for durations held in attributes, per engine: an attribute's value in nanoseconds, and comparisons of it.

`latency>500ms` must find `"latency": "523ms"`, `"latency_ms": 523` and `"http.server.request.duration": 0.523`
alike (which attributes a query name covers: logs_app/query/durations.py). Each engine turns an attribute into
a float of nanoseconds, or NULL when it holds no duration:

- a JSON number is in the attribute's unit (`unit_ns`, a bound parameter: ms for `latency_ms`, s for
  `http.server.request.duration`);
- a string is a number with an optional unit: `"123"`, `"123ms"`, `" 1.5 s"`, `"250µs"`, `"2m"`, `"1e3us"`
  (`VALUE_PATTERN`, the same on every engine; a string without a unit is in the attribute's unit);
- anything else (text, booleans, objects, a number of more than 30 digits) is NULL: no match, no error.

The string is parsed in SQL (regexp_match on PostgreSQL, REGEXP and GLOB on SQLite, extractGroups on
ClickHouse), never by reading records into Python. The pattern and attribute keys are bound parameters;
only the unit table below is literal SQL (code constants).

Comparisons are at nanosecond precision (`compare`): a value within half a nanosecond of the threshold is equal
to it, so `"0.123s"`, `"123ms"` and `123000us` compare alike although 0.123 s is not exact in floating point.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

UNIT_NS: dict[str, int] = {
    "ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
    "m": 60_000_000_000, "h": 3_600_000_000_000,
}
# Digits are bounded so that the number always converts to a finite float (no overflow error on PostgreSQL).
VALUE_PATTERN = (r"^ *([-+]?(?:[0-9]{1,30}(?:[.][0-9]{0,30})?|[.][0-9]{1,30})(?:[eE][-+]?[0-9]{1,2})?) *"
                 r"(ns|us|µs|μs|ms|s|m|h)? *$")
# Longer suffixes first: "ms" must not be read as "s" (SQLite looks the unit up by suffix).
_BY_SUFFIX = sorted(UNIT_NS.items(), key=lambda kv: -len(kv[0]))


def _unit_case(unit: str) -> str:
    """`CASE <unit> WHEN 'ns' THEN 1.0 ... ELSE %s END`: the factor of a parsed unit, else the attribute's."""
    whens = " ".join(f"WHEN '{u}' THEN {float(ns)!r}" for u, ns in UNIT_NS.items())
    return f"CASE {unit} {whens} ELSE %s END"


_PG_UNIT = _unit_case("r.m[2]")
_SQLITE_UNIT = ("CASE " + " ".join(f"WHEN v.t GLOB '*{u}' THEN {float(ns)!r}" for u, ns in _BY_SUFFIX)
                + " ELSE %s END")
_CH_UNIT = "multiIf(" + ", ".join(f"g[2] = '{u}', {float(ns)!r}" for u, ns in UNIT_NS.items()) + ", f)"  # f: lambda's


def postgres_ns(params: list[Any], key: str, unit_ns: float) -> str:
    """PostgreSQL, `attributes` jsonb: `->>` gives numbers and strings as text, so one pattern reads both."""
    params.extend([unit_ns, key, VALUE_PATTERN])
    return (f"(SELECT r.m[1]::float8 * ({_PG_UNIT})::float8 "
            "FROM regexp_match(attributes->>%s, %s) AS r(m))")


def sqlite_ns(params: list[Any], key: str, unit_ns: float) -> str:
    """SQLite, `attributes` JSON text: numbers directly; strings checked with REGEXP (RE2, installed on every
    connection by logs_app.apps), then CAST (which reads the leading number) times the unit of the suffix."""
    path = '$."' + key.replace('"', "") + '"'
    params.extend([path, path, unit_ns, path, VALUE_PATTERN, unit_ns, path])
    return ("(CASE WHEN json_type(attributes, %s) IN ('integer', 'real') THEN json_extract(attributes, %s) * %s "
            "WHEN json_type(attributes, %s) = 'text' THEN "
            f"(SELECT CASE WHEN v.t REGEXP %s THEN CAST(v.t AS REAL) * ({_SQLITE_UNIT}) END "
            "FROM (SELECT rtrim(json_extract(attributes, %s), ' ') AS t) AS v) END)")


def first_of(exprs: Sequence[str]) -> str:
    """The first of several attributes' durations that a record has (PostgreSQL and SQLite)."""
    return exprs[0] if len(exprs) == 1 else "COALESCE(" + ", ".join(exprs) + ")"


def _clickhouse_first(params: list[Any], texts: Sequence[tuple[str, list[Any]]], units_ns: Sequence[float]) -> str:
    """ClickHouse: the first of the attributes' texts ('' when absent) that parses as a duration. One lambda
    parses them all: an expression per attribute (as on the other engines) makes the engine's query analysis
    several times slower with the seven default attributes."""
    params.append(VALUE_PATTERN)
    for _, text_params in texts:
        params.extend(text_params)
    params.extend(units_ns)
    parse = (f"arrayElement(arrayMap(g -> if(length(g) = 2, toFloat64OrNull(g[1]) * {_CH_UNIT}, "
             "NULL), [extractGroups(s, %s)]), 1)")
    return (f"arrayFirstOrNull(x -> isNotNull(x), arrayMap((s, f) -> {parse}, "
            f"[{', '.join(t for t, _ in texts)}], [{', '.join(['%s'] * len(units_ns))}]))")


def clickhouse_json_ns(params: list[Any], attributes: Sequence[tuple[str, float]]) -> str:
    """ClickHouse store, `attributes` JSON text (clickhouse_schema.py): strings as they are, numbers as their
    JSON text (which reads back as the same float)."""
    text = ("multiIf(JSONType(attributes, %s) = 'String', JSONExtractString(attributes, %s), "
            "JSONType(attributes, %s) IN ('Int64', 'UInt64', 'Double'), JSONExtractRaw(attributes, %s), '')")
    return _clickhouse_first(params, [(text, [key] * 4) for key, _ in attributes], [u for _, u in attributes])


def clickhouse_map_ns(params: list[Any], attributes: Sequence[tuple[str, float]]) -> str:
    """The Collector's tables (clickhouse_otel.py): `attributes` is Map(String, String) ('' when absent)."""
    return _clickhouse_first(params, [("attributes[%s]", [key]) for key, _ in attributes],
                             [u for _, u in attributes])


def compare(expr: str, op: str, threshold_ns: int, params: list[Any]) -> str:
    """`expr op threshold` at nanosecond precision: equal means within half a nanosecond, and each operator
    is the complement of its opposite (`>` / `<=`, `<` / `>=`). `!=` matches a record without the value, as
    `!=` does for any attribute."""
    t = float(threshold_ns)
    if op == "=":
        params.append(t)
        return f"abs({expr} - %s) < 0.5"
    if op == "!=":
        params.append(t)
        return f"COALESCE(NOT (abs({expr} - %s) < 0.5), TRUE)"
    bound, sql = {">": (t + 0.5, ">="), ">=": (t - 0.5, ">"), "<": (t - 0.5, "<="), "<=": (t + 0.5, "<")}[op]
    params.append(bound)
    return f"{expr} {sql} %s"
