"""Metric and label names from OTLP, as the OpenTelemetry → Prometheus compatibility spec says.

Follows the spec's "Metric Metadata" and "Metric Attributes" sections (the same rules as the
Collector's prometheus translator): names are split into tokens on anything that is not a letter or a
digit, the unit is translated (UCUM → words, `a/b` → `a_per_b`, `{annotations}` dropped) and appended
unless already present, monotonic sums end in `_total`, unit-1 gauges in `_ratio`; label names have
invalid characters replaced by `_` and get a `key` prefix when they would start with a digit or one `_`.
"""

from __future__ import annotations

import functools
import re

UNIT_WORDS = {
    # time
    "d": "days", "h": "hours", "min": "minutes", "s": "seconds", "ms": "milliseconds", "us": "microseconds",
    "ns": "nanoseconds",
    # bytes
    "By": "bytes", "KiBy": "kibibytes", "MiBy": "mebibytes", "GiBy": "gibibytes", "TiBy": "tibibytes",
    "KBy": "kilobytes", "MBy": "megabytes", "GBy": "gigabytes", "TBy": "terabytes",
    # SI
    "m": "meters", "V": "volts", "A": "amperes", "J": "joules", "W": "watts", "g": "grams",
    # misc
    "Cel": "celsius", "Hz": "hertz", "1": "", "%": "percent",
}
PER_UNIT_WORDS = {"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week", "mo": "month", "y": "year"}

_TOKEN_SPLIT = re.compile(r"[^A-Za-z0-9]+")
_LABEL_INVALID = re.compile(r"[^A-Za-z0-9_]")
_BRACES = re.compile(r"\{[^}]*\}")


def _unit_tokens(unit: str) -> tuple[list[str], list[str]]:
    """(main unit tokens, per-unit tokens) of a UCUM unit string."""
    unit = _BRACES.sub("", unit).strip()
    if not unit:
        return [], []
    main, _, per = unit.partition("/")
    main_word = UNIT_WORDS.get(main.strip(), main.strip())
    per_word = PER_UNIT_WORDS.get(per.strip(), per.strip()) if per.strip() else ""
    main_tokens = [t for t in _TOKEN_SPLIT.split(main_word) if t]
    per_tokens = [t for t in _TOKEN_SPLIT.split(per_word) if t]
    return main_tokens, per_tokens


@functools.lru_cache(maxsize=4096)
def metric_name(name: str, unit: str, *, counter: bool = False, gauge: bool = False) -> str:
    tokens = [t for t in _TOKEN_SPLIT.split(name) if t]
    main_tokens, per_tokens = _unit_tokens(unit)
    if main_tokens and not _ends_with(tokens, main_tokens):
        tokens += main_tokens
    if per_tokens and not _ends_with(tokens, ["per", *per_tokens]):
        tokens += ["per", *per_tokens]
    if counter:
        tokens = [t for t in tokens if t != "total"] + ["total"]
    if gauge and unit.strip() == "1" and (not tokens or tokens[-1] != "ratio"):
        tokens.append("ratio")
    result = "_".join(tokens)
    if not result:
        return "_"
    if result[0].isdigit():
        result = "_" + result
    return result


def _ends_with(tokens: list[str], tail: list[str]) -> bool:
    return len(tokens) >= len(tail) and tokens[len(tokens) - len(tail):] == tail


@functools.lru_cache(maxsize=8192)
def label_name(key: str) -> str:
    if not key:
        return "key_empty"
    name = _LABEL_INVALID.sub("_", key)
    if name[0].isdigit():
        return "key_" + name
    if name.startswith("_") and not name.startswith("__"):
        return "key" + name
    return name
