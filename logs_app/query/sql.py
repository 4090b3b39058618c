"""AST → SQL WHERE fragments for the built-in stores (PostgreSQL and SQLite), with bound parameters.

The fragments use `%s` placeholders (Django's cursor converts them for SQLite). Nothing from the query
is ever interpolated into the SQL text: values, LIKE patterns, regexes and attribute keys are params.
The org and time-range conditions are added by the store, not here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from logs_app.query.ast import COMPARISONS, And, Field, MatchAll, Node, Not, Or, Text
from logs_app.query.durations import DurationLiteral, DurationLiteralError, duration_target, parse_literal
from logs_app.query.errors import QueryError
from logs_app.query.parser import parse
from logs_app.query.regex import re2_error
from logs_app.store import durations
from logs_app.store.records import LEVELS

LEVEL_ALIASES = {
    "warning": "warn", "err": "error", "critical": "fatal", "crit": "fatal", "panic": "fatal",
    "emergency": "fatal", "alert": "fatal", "notice": "info", "information": "info", "informational": "info",
    "dbg": "debug", "trc": "trace", "verbose": "debug",
}

# Search-language field → column, per target table. Anything else is an attribute lookup.
LOG_COLUMNS: Mapping[str, str] = {
    "level": "level", "service": "service", "body": "body", "message": "body", "msg": "body",
    "trace_id": "trace_id", "trace": "trace_id", "traceid": "trace_id",
    "span_id": "span_id", "span": "span_id", "spanid": "span_id",
    "correlation_id": "correlation_id", "cid": "correlation_id",
    "user": "user_id", "user_id": "user_id",
}
SPAN_COLUMNS: Mapping[str, str] = {
    "service": "service", "name": "name", "span_name": "name", "status": "status", "kind": "kind",
    "trace_id": "trace_id", "trace": "trace_id", "span_id": "span_id", "span": "span_id",
    "parent_span_id": "parent_span_id", "duration": "duration_ms", "latency": "duration_ms",
}
NUMERIC_COLUMNS = {"duration_ms"}
_EXACT_CI = {"level", "status", "kind"}


def normalise_level(value: str) -> str:
    v = value.strip().lower()
    return LEVEL_ALIASES.get(v, v)


def like_pattern(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@dataclass(frozen=True)
class Dialect:
    name: str

    @property
    def pg(self) -> bool:
        return self.name == "postgresql"

    def icontains(self, column: str) -> str:
        if self.pg:
            return f"{column} ILIKE %s"
        # SQLite LIKE is case-insensitive for ASCII; ESCAPE makes \% and \_ literal.
        return f"{column} LIKE %s ESCAPE '\\'"

    def regex(self, column: str) -> str:
        return f"{column} ~ %s" if self.pg else f"{column} REGEXP %s"

    def attr_text(self, key_params: list[Any], key: str) -> str:
        """An attribute as text: the record's attribute, else the resource's (e.g. service.version)."""
        if self.pg:
            key_params.extend([key, key])
            return "COALESCE(attributes->>%s, resource->>%s)"
        path = '$."' + key.replace('"', "") + '"'
        key_params.extend([path, path])
        # As text, as PostgreSQL's ->> gives it: json_extract returns a JSON number as an integer or real,
        # which never equals the bound text of `status=200`.
        return "CAST(COALESCE(json_extract(attributes, %s), json_extract(resource, %s)) AS TEXT)"

    def attr_number(self, key_params: list[Any], key: str) -> str:
        """An attribute as a number when it is one (JSON number or numeric string), else NULL."""
        if self.pg:
            key_params.extend([key, key])
            return ("(CASE WHEN (attributes->>%s) ~ '^\\s*-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?\\s*$' "
                    "THEN (attributes->>%s)::float8 END)")
        path = '$."' + key.replace('"', "") + '"'
        key_params.extend([path] * 6)
        # Numbers, and strings made only of number characters (CAST alone would turn "abc" into 0).
        return ("(CASE WHEN json_type(attributes, %s) IN ('integer', 'real') "
                "THEN CAST(json_extract(attributes, %s) AS REAL) "
                "WHEN json_type(attributes, %s) = 'text' AND json_extract(attributes, %s) GLOB '*[0-9]*' "
                "AND NOT json_extract(attributes, %s) GLOB '*[^0-9.eE+-]*' "
                "THEN CAST(json_extract(attributes, %s) AS REAL) END)")

    def attr_duration_ns(self, params: list[Any], attributes: Sequence[tuple[str, float]]) -> str:
        """The first of `attributes` (key, nanoseconds of a plain number in it) that holds a duration, in
        nanoseconds, else NULL: logs_app/store/durations.py."""
        one = durations.postgres_ns if self.pg else durations.sqlite_ns
        return durations.first_of([one(params, key, unit_ns) for key, unit_ns in attributes])


POSTGRES = Dialect("postgresql")
SQLITE = Dialect("sqlite")


class Compiler:
    def __init__(self, dialect: Dialect, target: str = "logs") -> None:
        self.d = dialect
        self.target = target
        self.columns = LOG_COLUMNS if target == "logs" else SPAN_COLUMNS
        self.text_column = "body" if target == "logs" else "name"

    def compile(self, node: Node) -> tuple[str, list[Any]]:
        params: list[Any] = []
        return self._node(node, params), params

    def _node(self, node: Node, params: list[Any]) -> str:
        if isinstance(node, MatchAll):
            return "1=1"
        if isinstance(node, Text):
            params.append(like_pattern(node.value))
            return self.d.icontains(self.text_column)
        if isinstance(node, And):
            return "(" + " AND ".join(self._node(c, params) for c in node.children) + ")"
        if isinstance(node, Or):
            return "(" + " OR ".join(self._node(c, params) for c in node.children) + ")"
        if isinstance(node, Not):
            # COALESCE: NOT over a NULL attribute comparison must still match ("does not have it").
            return f"NOT COALESCE({self._node(node.child, params)}, FALSE)"
        return self._field(node, params)

    def _field(self, f: Field, params: list[Any]) -> str:
        if f.name == "org":
            raise QueryError("org= is resolved before the store is asked", f.position)
        column = self.columns.get(f.name)
        if f.name == "level" and column:
            return self._level(f, params)
        if column is None:
            duration = self._duration(f, params)
            if duration is not None:
                return duration
        if f.number is not None:
            if column in NUMERIC_COLUMNS:
                params.append(f.number)
                return f"{column} {f.op} %s"
            if column is not None:
                raise QueryError(f"{f.name} is not numeric", f.position)
            num_params: list[Any] = []
            expr = self.d.attr_number(num_params, _attr_key(f.name))
            params.extend(num_params)
            params.append(f.number)
            return f"{expr} {f.op} %s"
        if column is None:
            key_params: list[Any] = []
            expr = self.d.attr_text(key_params, _attr_key(f.name))
            params.extend(key_params)
        elif column in NUMERIC_COLUMNS:
            raise QueryError(f"{f.name} takes a comparison such as {f.name}>500ms", f.position)
        else:
            expr = column
        return self._string_op(expr, f, params, column)

    def _duration(self, f: Field, params: list[Any]) -> str | None:
        """A comparison of an attribute holding a duration (`latency>500ms`, `latency_ms<=2s`, `latency=123ms`),
        or None when `f` is a plain numeric (`status>=500`) or string (`user=42`) comparison."""
        key = _attr_key(f.name)
        literal: DurationLiteral | None
        if f.op in COMPARISONS:
            literal = parse_literal(f.value)  # the parser has checked it
            target = duration_target(f.name, key, has_unit=literal is not None and literal.unit is not None)
        elif f.op in ("=", "!="):
            # Equality is a duration's only on the names that hold durations; elsewhere `=1m` is text.
            target = duration_target(f.name, key, has_unit=False)
            if target is None:
                return None
            try:
                literal = parse_literal(f.value)  # None (`latency=slow`): compared as text
            except DurationLiteralError as e:
                raise QueryError(str(e), f.position) from e
        else:
            return None
        if target is None or literal is None:
            return None
        try:
            threshold = literal.ns(target.plain_unit)
        except DurationLiteralError as e:
            raise QueryError(str(e), f.position) from e
        # The first attribute holding a duration counts: one duration per record, so NOT inverts exactly.
        expr = self.d.attr_duration_ns(params, [(attribute, float(durations.UNIT_NS[unit]))
                                                for attribute, unit in target.attributes])
        return durations.compare(expr, f.op, threshold, params)

    def _string_op(self, expr: str, f: Field, params: list[Any], column: str | None) -> str:
        value = f.value
        if column in _EXACT_CI:
            value = value.lower()
        if column in ("trace_id", "span_id", "parent_span_id"):
            value = value.lower()
        if f.op in ("~", "!~"):
            problem = None if self.d.pg else re2_error(value)
            if problem:
                raise QueryError(f"This store matches regular expressions with RE2 (linear time): no "
                                 f"backreferences or look-arounds ({problem})", f.position)
            params.append(value)
            sql = self.d.regex(expr)
            return sql if f.op == "~" else f"NOT COALESCE({sql}, FALSE)"
        if column == "body":
            params.append(like_pattern(value))
            sql = self.d.icontains(expr)
            return sql if f.op == "=" else f"NOT COALESCE({sql}, FALSE)"
        params.append(value)
        if f.op == "=":
            return f"{expr} = %s"
        if f.op == "!=":
            return f"COALESCE({expr} <> %s, TRUE)"
        raise QueryError(f"Operator {f.op!r} is not valid for {f.name}", f.position)

    def _level(self, f: Field, params: list[Any]) -> str:
        level = normalise_level(f.value)
        if level not in LEVELS and f.op not in ("~", "!~"):
            raise QueryError(f"Unknown level {f.value!r}; one of {', '.join(LEVELS)}", f.position)
        if f.op in ("=", "!="):
            params.append(level)
            return "level = %s" if f.op == "=" else "level <> %s"
        if f.op in ("~", "!~"):
            return self._string_op("level", f, params, "level")
        rank = LEVELS.index(level)
        chosen = [lv for i, lv in enumerate(LEVELS) if _cmp(i, f.op, rank)]
        if not chosen:
            return "1=0"
        params.extend(chosen)
        return "level IN (" + ", ".join(["%s"] * len(chosen)) + ")"


def _cmp(a: int, op: str, b: int) -> bool:
    return {">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b}[op]


def _attr_key(name: str) -> str:
    for prefix in ("attr.", "attributes.", "resource."):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def configured_dialect(vendor: str) -> Dialect:
    return POSTGRES if vendor == "postgresql" else SQLITE


def compile_query(query: str | Node, vendor: str, target: str = "logs") -> tuple[str, list[Any]]:
    """Parse (when given a string) and compile to (where_sql, params) for the given DB vendor."""
    node = parse(query) if isinstance(query, str) else query
    return Compiler(configured_dialect(vendor), target).compile(node)


def correlation_attribute_names() -> list[str]:
    return list(getattr(settings, "LOGS_CORRELATION_ATTRIBUTES", ["correlation_id", "request_id", "x_request_id"]))
