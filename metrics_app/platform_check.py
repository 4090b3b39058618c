"""Definition-time check of a platform series: does its result provably carry no org-specific label?

Every org reads a platform series without its org matcher, so an expression whose result could keep the
org label (or a label holding a copy of its value, or a per-org label such as `api_key`) would hand every
org every other org's series. We compute, conservatively, which labels the result can have and which of
them can hold an org-derived value, and refuse whenever that is not provably clear of them. When unsure
(an unknown node, a label set we cannot bound), we refuse.

Label sets are finite (`{a, b}`) or co-finite ("every label except {a, b}", what a selector or
`without` leaves). The tainted set holds the labels that may carry org-derived values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import promql_parser as pp

from .promql import PromQLError, _op, _parse

__all__ = ["PER_ORG_LABELS", "PlatformSeriesRefused", "check_expression", "check_name"]

# Labels whose values belong to one org even without the org label (the demo's API key names).
PER_ORG_LABELS: frozenset[str] = frozenset({"api_key"})
# level:metric:operations, Prometheus's recording-rule naming. Exporters never put colons in metric
# names (the data model reserves them for recording rules), so this form cannot name a raw metric.
NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*:[a-zA-Z_][a-zA-Z0-9_]*:[a-zA-Z0-9_]+\Z")
# Aggregations that return their input series with all their labels (`by` only groups).
_SELECTING = {"topk", "bottomk", "limitk", "limit_ratio"}
# Functions whose result has no labels at all.
_NO_LABELS = {"vector", "time", "pi", "scalar"}
_COMPARISONS = {"==", "!=", ">", "<", ">=", "<="}


class PlatformSeriesRefused(PromQLError):
    """The expression or name is not acceptable as a platform series; `.field` says which."""

    def __init__(self, message: str, field: str = "expr") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class _Labels:
    names: frozenset[str]
    cofinite: bool  # True: every label except `names`
    tainted: frozenset[str]
    scalar: bool = False

    def has(self, label: str) -> bool:
        return (label not in self.names) if self.cofinite else (label in self.names)

    def without(self, labels: frozenset[str]) -> _Labels:
        if self.cofinite:
            return _Labels(self.names | labels, True, self.tainted - labels)
        return _Labels(self.names - labels, False, self.tainted - labels)

    def only(self, labels: frozenset[str]) -> _Labels:
        kept = frozenset(x for x in labels if self.has(x))
        return _Labels(kept, False, self.tainted & kept)

    def plus(self, labels: frozenset[str], tainted: frozenset[str] = frozenset()) -> _Labels:
        names = self.names - labels if self.cofinite else self.names | labels
        return _Labels(names, self.cofinite, self.tainted | tainted)


_NONE = _Labels(frozenset(), False, frozenset())
_SCALAR = _Labels(frozenset(), False, frozenset(), scalar=True)


def check_name(name: str) -> None:
    if not NAME_RE.match(name):
        raise PlatformSeriesRefused(
            f"{name!r} is not a recording-rule name: use level:metric:operations, e.g. "
            "platform:service_up:ratio (metric names of exporters never contain colons, so this form "
            "cannot collide with a raw metric)", "name")


def check_expression(expr: str, org_label: str, name: str = "") -> None:
    """Raise PlatformSeriesRefused (or PromQLSyntaxError) unless `expr` provably aggregates `org_label`
    (and the per-org labels) away and selects no single org."""
    sensitive = frozenset({org_label}) | PER_ORG_LABELS
    tree = _parse(expr)
    out = _Analysis(org_label, sensitive, name).labels(tree)
    if out.scalar:
        return
    if out.cofinite:
        kept = sorted(sensitive - out.names)
        if kept:
            what = (f"the organization label {org_label!r}" if org_label in kept
                    else f"the per-organization label(s) {', '.join(kept)}")
            raise PlatformSeriesRefused(f"the result keeps {what}; aggregate it away (e.g. sum by "
                                        f"(service_name) (...)) so no org's series is readable")
    leaked = sorted(x for x in (sensitive | out.tainted) if out.has(x))
    if leaked:
        what = ("the organization label " + repr(org_label)) if org_label in leaked else (
            "label(s) " + ", ".join(leaked) + f" holding organization-specific values (per-org labels "
            f"or copies of {org_label!r})")
        raise PlatformSeriesRefused(f"the result keeps {what}; aggregate it away so no org's series is readable")


class _Analysis:
    def __init__(self, org_label: str, sensitive: frozenset[str], name: str) -> None:
        self.org_label = org_label
        self.sensitive = sensitive
        self.name = name

    def labels(self, n: pp.Expr) -> _Labels:  # noqa: C901, PLR0911, PLR0912 - one branch per node type
        if isinstance(n, pp.VectorSelector):
            return self.selector(n)
        if isinstance(n, pp.MatrixSelector):
            return self.selector(n.vector_selector)
        if isinstance(n, (pp.SubqueryExpr, pp.ParenExpr, pp.UnaryExpr)):
            return self.labels(n.expr)
        if isinstance(n, (pp.NumberLiteral, pp.StringLiteral)):
            return _SCALAR
        if isinstance(n, pp.AggregateExpr):
            return self.aggregate(n)
        if isinstance(n, pp.Call):
            return self.call(n)
        if isinstance(n, pp.BinaryExpr):
            return self.binary(n)
        raise PlatformSeriesRefused(f"unsupported expression node {type(n).__name__}")

    def selector(self, vs: pp.VectorSelector) -> _Labels:
        if vs.matchers.or_matchers:
            raise PlatformSeriesRefused("'or' inside selector braces is not supported")
        names = [vs.name] if vs.name else []
        for m in vs.matchers.matchers:
            op = _op(m)
            if m.name == "__name__" and op == "=":
                names.append(m.value)
            # Selecting one org (org_id="acme", api_key=~"acme-.*") would publish that org's numbers.
            if m.name in self.sensitive and not (op in ("=", "!=") and m.value == ""):
                raise PlatformSeriesRefused(
                    f"matcher {m.name}{op}{m.value!r} selects by the organization-specific label {m.name!r}: "
                    f"a platform series may only use {m.name}=\"\" or {m.name}!=\"\"")
        if self.name and self.name in names:
            raise PlatformSeriesRefused(f"the expression reads its own name {self.name!r}")
        return _Labels(frozenset(), True, self.sensitive)

    def aggregate(self, n: pp.AggregateExpr) -> _Labels:
        op = str(n.op)
        inner = self.labels(n.expr)
        if n.param is not None:
            self.labels(n.param)  # its selectors are checked too
        if op in _SELECTING:
            return inner
        if n.modifier is None:
            out = _NONE
        else:
            labels = frozenset(n.modifier.labels)
            out = inner.only(labels) if n.modifier.type == pp.AggModifierType.By else inner.without(labels)
        if op == "count_values":
            if not isinstance(n.param, pp.StringLiteral):
                raise PlatformSeriesRefused("count_values needs a literal label name")
            out = out.plus(frozenset({n.param.val}))
        return out

    def call(self, n: pp.Call) -> _Labels:
        fn = n.func.name
        args = [self.labels(a) for a in n.args]  # every selector is checked, whatever the function
        if fn in _NO_LABELS or n.func.return_type == pp.ValueType.Scalar:
            return _SCALAR if n.func.return_type == pp.ValueType.Scalar else _NONE
        if fn in ("absent", "absent_over_time"):
            # The result's labels come from the argument's equality matchers (checked by selector()).
            return _Labels(frozenset(_absent_labels(n.args[0])), False, frozenset())
        if fn in ("label_replace", "label_join"):
            strings = n.args[1:]
            if not all(isinstance(a, pp.StringLiteral) for a in strings):
                raise PlatformSeriesRefused(f"{fn} needs literal label names")
            inner = args[0]
            vals = [a.val for a in strings if isinstance(a, pp.StringLiteral)]
            dst = vals[0]
            sources = [vals[2]] if fn == "label_replace" else vals[2:]
            # The destination may take a source's value: it is tainted when any source may be.
            copies = any(inner.has(s) and (s in inner.tainted or s in self.sensitive) for s in sources)
            return inner.plus(frozenset({dst}), frozenset({dst}) if copies else frozenset())
        if fn == "info":
            raise PlatformSeriesRefused("info() adds labels of other series; not allowed in a platform series")
        out: _Labels | None = None
        for got in args:
            if got.scalar:
                continue
            out = got if out is None else _union(out, got)
        return out if out is not None else _NONE

    def binary(self, n: pp.BinaryExpr) -> _Labels:
        lhs, rhs = self.labels(n.lhs), self.labels(n.rhs)
        if lhs.scalar and rhs.scalar:
            return _SCALAR
        if lhs.scalar:
            return rhs
        if rhs.scalar:
            return lhs
        op = str(n.op)
        m = n.modifier
        if op == "or":
            return _union(lhs, rhs)
        if op in ("and", "unless") or (op in _COMPARISONS and not (m is not None and m.return_bool)):
            return lhs  # a filter: the lhs series as they are
        card = m.card if m is not None else pp.VectorMatchCardinality.OneToOne
        if card == pp.VectorMatchCardinality.ManyToOne:
            return self.grouped(lhs, rhs, m)
        if card == pp.VectorMatchCardinality.OneToMany:
            return self.grouped(rhs, lhs, m)
        if m is not None and m.matching is not None:
            labels = frozenset(m.matching.labels)
            return lhs.only(labels) if m.matching.type == pp.LabelModifierType.Include else lhs.without(labels)
        return lhs

    def grouped(self, many: _Labels, one: _Labels, m: Any) -> _Labels:
        """group_left/right: the many side's labels plus the listed ones copied from the one side."""
        extra = frozenset(m.group_labels or []) if m is not None else frozenset()
        copied = frozenset(x for x in extra if x in one.tainted or x in self.sensitive)
        return many.plus(extra, copied)


def _union(a: _Labels, b: _Labels) -> _Labels:
    tainted = a.tainted | b.tainted
    if a.cofinite and b.cofinite:
        return _Labels(a.names & b.names, True, tainted)
    if a.cofinite:
        return _Labels(a.names - b.names, True, tainted)
    if b.cofinite:
        return _Labels(b.names - a.names, True, tainted)
    return _Labels(a.names | b.names, False, tainted)


def _absent_labels(arg: pp.Expr) -> list[str]:
    vs = arg.vector_selector if isinstance(arg, pp.MatrixSelector) else arg
    if not isinstance(vs, pp.VectorSelector):
        return []
    return [m.name for m in vs.matchers.matchers if _op(m) == "=" and m.name != "__name__"]
