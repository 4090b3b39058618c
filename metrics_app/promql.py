"""PromQL org enforcement: parse, inject the org matcher into every selector, print.

We follow prometheus-community/prom-label-proxy (`injectproxy/enforce.go`, `-error-on-replace`): walk the
AST, and at every vector selector (matrix selectors and subqueries included) drop a matcher on the org
label that equals the enforced one and append `label="value"`. Unlike prom-label-proxy we are strict: a
matcher on the org label that could select *any other* org is rejected, not narrowed, so a user learns
their query named another org instead of silently getting an empty answer:

- `label="value"` is accepted (it is what we inject anyway);
- `label=~"value"` is accepted only when the regex is exactly the literal value (no metacharacters);
- `label="other"`, `label!=…`, `label=~…` (anything else) and `label!~…` are rejected.

Platform series (metrics_app/platform_series.py) are the one exception: a selector with an *equality* on
the metric name (`name{…}` or `{__name__="name"}`) naming an allowed platform series gets `label=""`
instead of the org matcher. Every series it can select has that name and no org label, so nothing any
org wrote is reachable through it. A regex on `__name__` never counts as naming a platform series (it
is enforced like any other selector), so `{__name__=~"platform:.*|secret"}` stays confined to the org.

The AST is printed by our own printer rather than the parser's `str()`: promql-parser 0.12 prints
string escapes unescaped, prints `x[1h:]` as a matrix selector and `Inf` as `inf`, and its `transform`
does not apply replacements. Printing ourselves also means the output is built only from parsed parts,
never by string editing of the input.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta

import promql_parser as pp

__all__ = [
    "ForeignOrgMatcher",
    "PromQLError",
    "PromQLSyntaxError",
    "enforce",
    "enforce_matchers",
    "enforce_selector",
    "is_label_name",
    "is_metric_name",
    "normalize",
    "normalize_selector",
    "parse_selector",
    "selectors",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# A regex is "exactly the literal" only when it has none of RE2's metacharacters.
_LITERAL_RE = re.compile(r"^[A-Za-z0-9_:\-]*\Z")
_LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*\Z")
_METRIC_NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
# MatchOp is not hashable, so no dict.
_OPS = ((pp.MatchOp.Equal, "="), (pp.MatchOp.NotEqual, "!="), (pp.MatchOp.Re, "=~"), (pp.MatchOp.NotRe, "!~"))


def _op(m: pp.Matcher) -> str:
    for op, text in _OPS:
        if m.op == op:
            return text
    raise PromQLSyntaxError(f"unknown matcher operator {m.op!r}")


class PromQLError(Exception):
    """A query we refuse; `.position` is a 0-based character offset into the query when known."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


class PromQLSyntaxError(PromQLError):
    """The query does not parse."""


class ForeignOrgMatcher(PromQLError):
    """A matcher on the org label that could select another org; `.matcher` is its text."""

    def __init__(self, message: str, position: int | None = None, matcher: str = "") -> None:
        super().__init__(message, position)
        self.matcher = matcher


# ---------------------------------------------------------------- parsing

# Prometheus 2.x still has holt_winters (renamed double_exponential_smoothing in 3.0); promql-parser
# dropped it. Registration is process-global, so guard against doing it twice.
try:
    pp.register_extra_functions([pp.Function(
        "holt_winters", [pp.ValueType.Matrix, pp.ValueType.Scalar, pp.ValueType.Scalar], pp.ValueType.Vector)])
except ValueError:
    pass


# The Rust parser recurses without a limit: ~10k nested parentheses hang it for minutes and 100k (or a
# few thousand chained binary operators) crash the whole process with a stack overflow. Our printer
# recurses too. So the query's shape is bounded *before* it reaches the parser.
MAX_QUERY_LENGTH = 64 * 1024
MAX_NESTING = 64
MAX_OPERATORS = 250
_STRING_RE = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', re.DOTALL)
_OPERATOR_RE = re.compile(r"==|!=|<=|>=|[-+*/%^<>]|\b(?:and|or|unless|atan2)\b")


def _precheck(query: str) -> None:
    if len(query) > MAX_QUERY_LENGTH:
        raise PromQLSyntaxError(f"query too long: {len(query)} characters, the limit is {MAX_QUERY_LENGTH}", None)
    code = _STRING_RE.sub('""', query)
    depth = 0
    for i, ch in enumerate(code):
        if ch in "([{":
            depth += 1
            if depth > MAX_NESTING:
                raise PromQLSyntaxError(f"query too complex: nesting deeper than {MAX_NESTING} levels", i)
        elif ch in ")]}":
            depth -= 1
    operators = len(_OPERATOR_RE.findall(code))
    if operators > MAX_OPERATORS:
        raise PromQLSyntaxError(f"query too complex: {operators} operators, the limit is {MAX_OPERATORS}", None)


def _parse(query: str) -> pp.Expr:
    if not query or not query.strip():
        raise PromQLSyntaxError("empty query", 0)
    _precheck(query)
    try:
        return pp.parse(query)
    except (ValueError, TypeError) as e:
        raise PromQLSyntaxError(f"parse error: {e}", _error_position(query, str(e))) from e
    except BaseException as e:  # the Rust extension raises PanicException (a BaseException) on odd input
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        raise PromQLSyntaxError(f"parse error: {e}", None) from e


def _error_position(query: str, message: str) -> int | None:
    """Best effort: the parser gives no offsets, so point at the token it names, or at the end of input
    when it ran out of input."""
    if "end of input" in message or "unclosed" in message:
        return len(query)
    m = re.search(r"syntax: (\S+)$|for (\S+)$", message)
    if m:
        token = m.group(1) or m.group(2)
        idx = query.find(token)
        return idx if idx >= 0 else None
    return None


# ---------------------------------------------------------------- enforcement


def _matcher_str(op: str, name: str, value: str) -> str:
    return f"{name}{op}{_quote(value)}"


def _check_matchers(matchers: list[pp.Matcher], label: str, value: str, query: str) -> list[pp.Matcher]:
    """The selector's matchers without those on `label` (which we re-add), or ForeignOrgMatcher."""
    kept: list[pp.Matcher] = []
    for m in matchers:
        if m.name != label:
            kept.append(m)
            continue
        op = _op(m)
        allowed = (op == "=" and m.value == value) or (
            op == "=~" and m.value == value and bool(_LITERAL_RE.match(value))
        )
        if not allowed:
            text = _matcher_str(op, m.name, m.value)
            raise ForeignOrgMatcher(
                f"matcher {text} on the organization label {label!r} could select another organization; "
                f"this token may only query {label}={_quote(value)}",
                _matcher_position(query, label),
                text,
            )
    return kept


def _matcher_position(query: str, label: str) -> int | None:
    m = re.search(rf"(?<![A-Za-z0-9_]){re.escape(label)}\s*(=~|!~|!=|=)", query)
    return m.start() if m else None


def _check_platform_matchers(matchers: list[pp.Matcher], label: str, name: str, query: str) -> list[pp.Matcher]:
    """A platform selector's matchers without `label=""` (re-added); any other matcher on `label` is
    refused: a platform series carries no org label, so such a matcher can only mean a mistake."""
    kept: list[pp.Matcher] = []
    for m in matchers:
        if m.name != label:
            kept.append(m)
            continue
        op = _op(m)
        if op == "=" and m.value == "":
            continue
        text = _matcher_str(op, m.name, m.value)
        raise ForeignOrgMatcher(
            f"matcher {text} on the organization label {label!r}: platform series {name!r} carries no "
            f"organization label (it is read with {label}=\"\"); drop the matcher",
            _matcher_position(query, label),
            text,
        )
    return kept


def _equality_names(vs: pp.VectorSelector) -> list[str]:
    """Metric names the selector pins with an equality (`name{…}`, `{__name__="name"}`)."""
    names = [vs.name] if vs.name else []
    names += [m.value for m in vs.matchers.matchers if m.name == "__name__" and _op(m) == "="]
    return names


# The enforcer's view of the allow-list: the names, or a function returning them that is called only
# for a query that needs it (metrics_app.platform_series.allowed_names, a cache read). The default is
# none: a caller that does not pass the allow-list gets the strict enforcement.
PlatformNames = Collection[str] | Callable[[], Collection[str]]


class _Printer:
    """Prints an AST back to PromQL, injecting `label="value"` into each selector when `label` is set
    (`label=""` into selectors naming an allowed platform series)."""

    def __init__(self, label: str | None, value: str, query: str, platform: PlatformNames = ()) -> None:
        self.label = label
        self.value = value
        self.query = query
        self.count = 0  # selectors seen, for tests and metrics
        self._platform = platform
        self.platform_selectors = 0

    def platform_name(self, vs: pp.VectorSelector) -> str | None:
        """The allowed platform series this selector names by equality, else None. Recording-rule names
        always have a colon (checked when staff define one), so the allow-list (a cache read) is only
        asked for selectors naming such a metric."""
        names = [n for n in _equality_names(vs) if ":" in n]
        if not names:
            return None
        if callable(self._platform):
            self._platform = frozenset(self._platform())
        for n in names:
            # Every series the selector can match has this name (all equalities must hold).
            if n in self._platform:
                return n
        return None

    def expr(self, n: pp.Expr) -> str:  # noqa: C901, PLR0911 - one branch per node type
        if isinstance(n, pp.VectorSelector):
            return self.selector(n) + _at_offset(n.at, n.offset)
        if isinstance(n, pp.MatrixSelector):
            vs = n.vector_selector
            return f"{self.selector(vs)}[{_duration(n.range)}]{_at_offset(vs.at, vs.offset)}"
        if isinstance(n, pp.SubqueryExpr):
            step = _duration(n.step) if n.step else ""
            rng = _duration(n.range) if n.range is not None else ""
            return f"{self.wrapped(n.expr)}[{rng}:{step}]{_at_offset(n.at, n.offset)}"
        if isinstance(n, pp.AggregateExpr):
            return self.aggregate(n)
        if isinstance(n, pp.BinaryExpr):
            return self.binary(n)
        if isinstance(n, pp.UnaryExpr):
            return f"-{self.wrapped(n.expr)}"
        if isinstance(n, pp.ParenExpr):
            return f"({self.expr(n.expr)})"
        if isinstance(n, pp.Call):
            return f"{n.func.name}({', '.join(self.expr(a) for a in n.args)})"
        if isinstance(n, pp.NumberLiteral):
            return _number(n.val)
        if isinstance(n, pp.StringLiteral):
            return _quote(n.val)
        raise PromQLSyntaxError(f"unsupported expression node {type(n).__name__}")

    def wrapped(self, n: pp.Expr) -> str:
        """Operands that bind looser than their parent get parentheses; extra ones are harmless."""
        text = self.expr(n)
        if isinstance(n, (pp.BinaryExpr, pp.UnaryExpr, pp.SubqueryExpr)) or (
            isinstance(n, pp.VectorSelector) and (n.at is not None or n.offset is not None)
        ):
            return f"({text})"
        return text

    def selector(self, vs: pp.VectorSelector) -> str:
        self.count += 1
        matchers = vs.matchers
        if matchers.or_matchers:
            # `{a="1" or b="2"}` (Prometheus 3) is not understood by every backend, and each branch would
            # need its own org matcher: refuse it rather than risk a branch without one.
            raise PromQLSyntaxError("'or' inside selector braces is not supported", None)
        ms = list(matchers.matchers)
        parts: list[str] = []
        value = self.value
        if self.label is not None:
            platform = self.platform_name(vs)
            if platform is not None:
                ms = _check_platform_matchers(ms, self.label, platform, self.query)
                value = ""
                self.platform_selectors += 1
            else:
                ms = _check_matchers(ms, self.label, self.value, self.query)
        for m in ms:
            parts.append(_matcher_str(_op(m), _label_name(m.name), m.value))
        if self.label is not None:
            parts.append(_matcher_str("=", self.label, value))
        name = vs.name or ""
        return f"{name}{{{','.join(parts)}}}"

    def aggregate(self, n: pp.AggregateExpr) -> str:
        mod = ""
        if n.modifier is not None:
            kind = "by" if n.modifier.type == pp.AggModifierType.By else "without"
            mod = f" {kind} ({', '.join(_label_name(x) for x in n.modifier.labels)})"
        args = self.expr(n.expr)
        if n.param is not None:
            args = f"{self.expr(n.param)}, {args}"
        return f"{n.op}{mod} ({args})"

    def binary(self, n: pp.BinaryExpr) -> str:
        op = str(n.op)
        mod = ""
        m = n.modifier
        if m is not None:
            fill = m.fill_values
            if fill is not None and (fill.lhs is not None or fill.rhs is not None):
                raise PromQLSyntaxError("fill modifiers are not supported", None)
            if m.return_bool:
                mod += " bool"
            if m.matching is not None:
                kind = "on" if m.matching.type == pp.LabelModifierType.Include else "ignoring"
                mod += f" {kind} ({', '.join(_label_name(x) for x in m.matching.labels)})"
            if m.card == pp.VectorMatchCardinality.ManyToOne:
                mod += f" group_left ({', '.join(_label_name(x) for x in m.group_labels or [])})"
            elif m.card == pp.VectorMatchCardinality.OneToMany:
                mod += f" group_right ({', '.join(_label_name(x) for x in m.group_labels or [])})"
        return f"{self.wrapped(n.lhs)} {op}{mod} {self.wrapped(n.rhs)}"


def _label_name(name: str) -> str:
    if not _LABEL_NAME_RE.match(name):
        raise PromQLSyntaxError(f"unsupported label name {name!r}", None)
    return name


def _quote(value: str) -> str:
    # JSON string escapes (\" \\ \n \uXXXX) are all valid PromQL (Go) string escapes.
    return json.dumps(value, ensure_ascii=False)


def _number(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def _duration(d: timedelta) -> str:
    """Prometheus duration syntax; negative offsets keep their sign."""
    ms = round(d.total_seconds() * 1000)
    if ms == 0:
        return "0s"
    sign = "-" if ms < 0 else ""
    ms = abs(ms)
    out = ""
    for unit, size in (("y", 365 * 86_400_000), ("w", 7 * 86_400_000), ("d", 86_400_000), ("h", 3_600_000),
                       ("m", 60_000), ("s", 1000), ("ms", 1)):
        if ms >= size:
            out += f"{ms // size}{unit}"
            ms %= size
    return sign + out


def _at_offset(at: pp.AtModifier | None, offset: timedelta | None) -> str:
    out = ""
    if at is not None:
        if at.type == pp.AtModifierType.Start:
            out += " @ start()"
        elif at.type == pp.AtModifierType.End:
            out += " @ end()"
        elif at.at is not None:
            out += f" @ {(at.at - _EPOCH).total_seconds():.3f}"
    if offset is not None and offset != timedelta(0):
        out += f" offset {_duration(offset)}"
    return out


# ---------------------------------------------------------------- public API


def enforce(query: str, label: str, value: str, platform: PlatformNames = ()) -> str:
    """The query with `label="value"` in every selector (`label=""` in those naming an allowed platform
    series); raises PromQLSyntaxError / ForeignOrgMatcher. `platform`: the allowed names, or a function
    returning them (the portal passes metrics_app.platform_series.allowed_names); default none."""
    expr = _parse(query)
    return _Printer(label, value, query, platform).expr(expr)


def normalize(query: str) -> str:
    """The query printed canonically without enforcement (for staff cross-org mode and cache keys)."""
    return _Printer(None, "", query).expr(_parse(query))


def enforce_matchers(match: list[str], label: str, value: str, platform: PlatformNames = ()) -> list[str]:
    """Each `match[]` series selector enforced; an empty list means "the org's series" (`{label="value"}`)."""
    if not match:
        return ["{" + _matcher_str("=", label, value) + "}"]
    return [enforce_selector(m, label, value, platform) for m in match]


def enforce_selector(selector: str, label: str, value: str, platform: PlatformNames = ()) -> str:
    """One `match[]` entry: must be a plain vector selector (what Prometheus accepts there)."""
    expr = _parse(selector)
    if not isinstance(expr, pp.VectorSelector) or expr.at is not None or expr.offset is not None:
        raise PromQLSyntaxError(f"match[] must be a series selector, got {selector!r}", 0)
    return _Printer(label, value, selector, platform).selector(expr)


def normalize_selector(selector: str) -> str:
    """One `match[]` entry, validated and printed canonically, without enforcement."""
    expr = _parse(selector)
    if not isinstance(expr, pp.VectorSelector) or expr.at is not None or expr.offset is not None:
        raise PromQLSyntaxError(f"match[] must be a series selector, got {selector!r}", 0)
    return _Printer(None, "", selector).selector(expr)


def is_label_name(name: str) -> bool:
    return bool(_LABEL_NAME_RE.match(name))


def is_metric_name(name: str) -> bool:
    return bool(_METRIC_NAME_RE.match(name))


def parse_selector(selector: str) -> pp.VectorSelector:
    expr = _parse(selector)
    if not isinstance(expr, pp.VectorSelector):
        raise PromQLSyntaxError(f"not a series selector: {selector!r}", 0)
    return expr


def selectors(query: str) -> list[pp.VectorSelector]:
    """Every vector selector of the query (matrix selectors and subqueries included), in order."""
    found: list[pp.VectorSelector] = []

    def visit(n: pp.Expr) -> None:
        if isinstance(n, pp.VectorSelector):
            found.append(n)

    pp.walk(_parse(query), visit)
    return found
