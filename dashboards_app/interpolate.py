"""Resolve time ranges, steps, dashboard variables and Grafana macros into the PromQL sent to federation.

Interpolation is text substitution into a query that federation then parses and org-enforces, so a
variable value can never widen a query beyond the org; values are still checked (no quotes or
backslashes) so that a value cannot change the shape of the query it is put into.

`$__price_per_1k(input)` / `$__price_per_1k(output)` become the staff price table as a selector-free
PromQL vector (dashboards_app/pricing.py), before anything else, so the enforcer sees the prices too.
"""

from __future__ import annotations

import math
import re
import time as _time
from datetime import UTC, datetime, timedelta
from typing import Any

from dashboards_app import pricing
from portal.core import params
from portal.errors import ServiceError

# Grafana's $__rate_interval is max($__interval + scrape interval, 4 × scrape interval); Prometheus'
# default scrape interval is what we assume when the datasource does not say otherwise.
SCRAPE_INTERVAL_S = 15
MAX_POINTS = 240
MIN_STEP_S = 2
MAX_RANGE = timedelta(days=400)

_VAR_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+))?\}"
                     r"|\[\[([A-Za-z_][A-Za-z0-9_]*)\]\]|\$([A-Za-z_][A-Za-z0-9_]*)")
_UNSAFE_VALUE = re.compile(r'["\\\n`]')
_REGEX_META = re.compile(r"([.+*?()|\[\]{}^$\\])")
_PRICE_MACRO = re.compile(r"\$__price_per_1k\(\s*(input|output)\s*\)")


def parse_time(value: str | float | int | None, now: float | None = None, *, default: float | None = None) -> float:
    """`now`, `now-6h`, epoch seconds or an ISO 8601 timestamp with an offset → epoch seconds."""
    if value is None or value == "":
        if default is None:
            raise ServiceError(400, "invalid_time", "A time is required.")
        return default
    return params.parse_time(value, "time", now=_at(now), assume_utc=False).timestamp()


def time_range(start: Any, end: Any, now: float | None = None) -> tuple[float, float]:
    r = params.time_range(start, end, now=_at(now), max_span=MAX_RANGE, assume_utc=False, names=("from", "to"))
    return r.start.timestamp(), r.end.timestamp()


def _at(now: float | None) -> datetime:
    return datetime.fromtimestamp(_time.time() if now is None else now, tz=UTC)


def auto_step(start: float, end: float, requested: Any = None) -> int:
    """The step: the requested one if given (a number of seconds or a duration), else ~MAX_POINTS points."""
    floor = max(MIN_STEP_S, math.ceil((end - start) / 11000))  # Prometheus refuses > 11,000 points
    if requested not in (None, ""):
        step = int(params.parse_duration(str(requested), "step").total_seconds())
        return max(step, floor)
    return max(floor, math.ceil((end - start) / MAX_POINTS))


def fmt_duration(seconds: float) -> str:
    seconds = max(1, int(round(seconds)))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def month_to_date_seconds(at: float) -> int:
    """Seconds from the start of `at`'s UTC month to `at` (at least 1, a range must not be empty)."""
    moment = datetime.fromtimestamp(at, tz=UTC)
    month_start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return max(1, int(at - month_start.timestamp()))


def macros(start: float, end: float, step: int, org_label: str = "org_id") -> dict[str, str]:
    """Grafana's time macros, the month to date, and `$__org_label`: the name of the label that carries the
    org on the datasource queried (a staff breakdown `by (…, $__org_label)` follows its configuration)."""
    rng = max(1, int(end - start))
    rate = max(step + SCRAPE_INTERVAL_S, 4 * SCRAPE_INTERVAL_S)
    # Instant panels are evaluated at `end` rounded up to the step (dashboards_app/querying.py): the month
    # to date is measured from there, so that it starts exactly at the month's first second.
    at = -(-int(end) // max(1, step)) * max(1, step)
    return {
        "__month_to_date": fmt_duration(month_to_date_seconds(at)),
        "__interval": fmt_duration(step),
        "__interval_ms": str(step * 1000),
        "__rate_interval": fmt_duration(rate),
        "__range": fmt_duration(rng),
        "__range_s": str(rng),
        "__range_ms": str(rng * 1000),
        "__org_label": org_label,
    }


def _format(name: str, value: str | list[str], fmt: str | None) -> str:
    values = value if isinstance(value, list) else [value]
    for v in values:
        if _UNSAFE_VALUE.search(v):
            raise ServiceError(400, "invalid_variable", f"The value of ${name} contains a quote or backslash.",
                               {"variable": name})
    if fmt == "raw" or (len(values) == 1 and fmt not in ("regex", "pipe")):
        return values[0] if fmt == "raw" else _escape_one(values[0])
    if fmt == "pipe":
        return "|".join(values)
    return "(" + "|".join(_REGEX_META.sub(r"\\\\\1", v) for v in values) + ")"


def _escape_one(value: str) -> str:
    # A single value is usually inside =~"…" in shared dashboards, but also inside ="…"; like Grafana we
    # do not escape it, because "All" is represented as the regex `.*`.
    return value


def expand_prices(expr: str) -> str:
    """`$__price_per_1k(input|output)` → the price vector; pricing.NoPricesSet when the table is empty."""
    if "$__price_per_1k" not in expr:
        return expr
    vectors: dict[str, str] = {}

    def repl(m: re.Match[str]) -> str:
        token_type = m.group(1)
        if token_type not in vectors:
            vectors[token_type] = pricing.price_vector(token_type)
        return vectors[token_type]

    return _PRICE_MACRO.sub(repl, expr)


def interpolate(expr: str, variables: dict[str, str | list[str]], builtins: dict[str, str]) -> str:
    """Replace the price macros, $var, ${var}, ${var:fmt}, [[var]] and Grafana macros; unknown names are left
    as they are (the parser then reports them at their position)."""
    expr = expand_prices(expr)

    def repl(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(3) or m.group(4)
        fmt = m.group(2)
        if name in builtins:
            return builtins[name]
        if name in variables:
            return _format(name, variables[name], fmt)
        return m.group(0)

    return _VAR_RE.sub(repl, expr)


def resolve_variables(definitions: list[dict[str, Any]], chosen: dict[str, Any],
                      options: dict[str, list[str]]) -> dict[str, str | list[str]]:
    """The value of each variable: what the user chose, else the saved current value, else the first option.
    `$__all` (the All option) becomes `.*`."""
    out: dict[str, str | list[str]] = {}
    for var in definitions:
        name = var["name"]
        value = chosen.get(name, var.get("current"))
        opts = options.get(name) or var.get("options") or []
        if value in (None, "", []):
            value = "$__all" if var.get("includeAll") else (opts[0] if opts else "")
        if isinstance(value, list):
            value = [str(v) for v in value][:100]
            if "$__all" in value:
                value = "$__all"
        else:
            value = str(value)
        if value == "$__all":
            out[name] = ".*"
        else:
            out[name] = value
    return out
