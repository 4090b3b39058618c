"""Durations in the search language: literals (`500ms`, `1.5s`) and the attributes a duration name covers.

`LOGS_DURATION_ATTRIBUTES` maps attribute names to the unit of a plain number in them (a string such as
"123ms" carries its own unit); `LOGS_DURATION_FIELDS` are the query names that mean "the record's duration".
How a comparison picks its attributes (reference: docs/logs.md, "Durations"):

- a duration field (`latency`, `duration`, `elapsed`): the first configured attribute the record has, in the
  configured order; a plain number in the query is milliseconds;
- a configured attribute by name (`latency_ms`, `http.server.request.duration`, or `attr.latency` for the
  attribute `latency` alone): that attribute; a plain number in the query is in the attribute's unit;
- any other attribute compared with a unit (`db_time>2s`): that attribute, plain numbers in it in ms.

The SQL each store runs is in logs_app/store/durations.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from logs_app.store.durations import UNIT_NS

DEFAULT_ATTRIBUTES: Mapping[str, str] = {
    "latency": "ms", "duration": "ms", "elapsed": "ms", "latency_ms": "ms", "duration_ms": "ms",
    "elapsed_ms": "ms", "http.server.request.duration": "s",
}
DEFAULT_FIELDS = ("latency", "duration", "elapsed")
UNITS_TEXT = "ns, us (µs), ms, s, m, h"
MAX_NS = 10**27  # about 3e10 years: past it a literal is a typo (and floats have long lost all precision)
_LITERAL = re.compile(r"^([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)([^\d.+\-].*)?\Z", re.DOTALL)


class DurationLiteralError(ValueError):
    """A value that starts as a number but is no duration: the message says why (unit, range)."""


@dataclass(frozen=True)
class DurationLiteral:
    number: Decimal
    unit: str | None  # None: a plain number, in whatever unit the comparison gives it
    text: str  # as written in the query

    def ns(self, default_unit: str = "ms") -> int:
        """The literal in whole nanoseconds (exact decimal arithmetic; half a nanosecond rounds to even);
        DurationLiteralError past MAX_NS."""
        out_of_range = DurationLiteralError(f"Duration {self.text!r} is out of range (at most 1e27 ns)")
        if self.number.copy_abs() > MAX_NS:  # before any arithmetic: 1e999999 would overflow the context
            raise out_of_range
        with localcontext() as ctx:
            ctx.prec = 80  # exact for every |number| <= MAX_NS times the largest unit
            ns = int((self.number * UNIT_NS[self.unit or default_unit]).quantize(Decimal(1), ROUND_HALF_EVEN))
        if abs(ns) > MAX_NS:
            raise out_of_range
        return ns

    def ms(self) -> float:
        """The value as the parser's `Field.number`: milliseconds, a plain number as it is."""
        return float(self.number) * UNIT_NS[self.unit or "ms"] / UNIT_NS["ms"]


def parse_literal(text: str) -> DurationLiteral | None:
    """`500ms`, `1.5s`, `250us`, `2m`, `-3`, `1e3us` → a literal; None when `text` does not start as a number;
    DurationLiteralError for a number with an unknown unit, or with a unit and out of range."""
    m = _LITERAL.match(text)
    if m is None:
        return None
    unit = m.group(2)
    if unit is not None and unit not in UNIT_NS:
        raise DurationLiteralError(f"Unknown unit {unit!r} in {text!r}; units: {UNITS_TEXT}")
    try:
        number = Decimal(m.group(1))
    except InvalidOperation as e:  # the pattern only lets numbers through; kept for safety
        raise DurationLiteralError(f"{text!r} is not a number") from e
    literal = DurationLiteral(number, unit, text)
    if unit is not None:
        literal.ns()  # range check; a plain number is checked when it is used as a duration
    return literal


@dataclass(frozen=True)
class DurationConfig:
    attributes: Mapping[str, str]  # attribute → unit of a plain number in it, in lookup order
    fields: frozenset[str]  # query names meaning "the record's duration"


def duration_config() -> DurationConfig:
    """The settings, checked (read per query: cheap, and tests may override them)."""
    attributes = dict(getattr(settings, "LOGS_DURATION_ATTRIBUTES", DEFAULT_ATTRIBUTES))
    fields = frozenset(name.lower() for name in getattr(settings, "LOGS_DURATION_FIELDS", DEFAULT_FIELDS))
    bad = {k: v for k, v in attributes.items() if v not in UNIT_NS}
    if bad:
        raise ImproperlyConfigured(f"LOGS_DURATION_ATTRIBUTES: unknown unit(s) {bad}; units: {UNITS_TEXT}")
    return DurationConfig(attributes, fields)


@dataclass(frozen=True)
class DurationTarget:
    """What a duration comparison reads: attributes with their units (the first one present counts), and the
    unit of a plain number in the query."""

    attributes: tuple[tuple[str, str], ...]
    plain_unit: str


def duration_target(name: str, key: str, has_unit: bool, config: DurationConfig | None = None) -> \
        DurationTarget | None:
    """The attributes a comparison on query name `name` (attribute key `key`, i.e. without `attr.`) reads
    as a duration; None when it is a plain numeric or string comparison."""
    cfg = config or duration_config()
    if name in cfg.fields:
        return DurationTarget(tuple(cfg.attributes.items()), "ms")
    # Query names are lower case (the parser folds them); a configured name is matched the same way and
    # looked up in the record as configured.
    configured = {k.lower(): (k, u) for k, u in cfg.attributes.items()}
    if key in configured:
        attribute, unit = configured[key]
        return DurationTarget(((attribute, unit),), unit)
    if has_unit:
        return DurationTarget(((key, "ms"),), "ms")
    return None
