"""Request parameters every API reads the same way: times, time ranges, durations and bounded integers.

Each parser rejects a bad value with a 400 ServiceError that names the parameter (`details.param`), so a
client knows which one to fix.

- Times: RFC 3339 / ISO 8601, Unix seconds (milliseconds above 1e11), `now`, or `now-<duration>`.
- Durations: a number of seconds, or Prometheus' syntax (`30s`, `5m`, `1h30m`, `7d`, `1y`, `500ms`).
- Time ranges: `start`/`end`, or `since` (a duration before `end`), bounded by a longest span.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone

from portal.errors import ServiceError

_DURATION = re.compile(r"(?:([0-9]+)y)?(?:([0-9]+)w)?(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?"
                       r"(?:([0-9]+)ms)?")
_UNIT_SECONDS = (365 * 86400.0, 7 * 86400.0, 86400.0, 3600.0, 60.0, 1.0, 0.001)
# A Unix time above this is taken as milliseconds: 1e11 seconds is in the year 5138.
_MILLISECONDS_FROM = 1e11
_INTEGER = re.compile(r"[0-9]{1,18}")
_MAX_SECONDS = timedelta.max.total_seconds()

TIME_HELP = "RFC 3339 / ISO 8601, Unix seconds or now-15m"
DURATION_HELP = "e.g. 30s, 15m, 1h30m, 7d"


@dataclass(frozen=True)
class TimeRange:
    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return max((self.end - self.start).total_seconds(), 1e-9)


def bad_param(name: str, code: str, message: str, **details: Any) -> ServiceError:
    return ServiceError(400, code, message, {"param": name, **details})


def _duration_seconds(text: str) -> float | None:
    """Seconds of a duration (a number, or Prometheus' syntax), None if it is not one; may be <= 0."""
    try:
        value = float(text)
    except ValueError:
        m = _DURATION.fullmatch(text)
        if m is None or not any(m.groups()):
            return None
        try:
            return sum(int(g) * unit for g, unit in zip(m.groups(), _UNIT_SECONDS, strict=True) if g)
        except (ValueError, OverflowError):  # more digits than a number may have
            return None
    return value if math.isfinite(value) else None


def parse_duration(raw: str | float | timedelta | None, name: str, *, default: timedelta | None = None,
                   code: str = "invalid_duration") -> timedelta:
    """A positive duration. Missing: `default` (no default: the parameter is required)."""
    if raw is None or raw == "":
        if default is None:
            raise bad_param(name, code, f"{name} is required ({DURATION_HELP}).")
        return default
    if isinstance(raw, timedelta):
        seconds: float | None = raw.total_seconds()
    elif isinstance(raw, (int, float)) and not isinstance(raw, bool):
        seconds = float(raw) if math.isfinite(raw) else None
    elif isinstance(raw, str):
        seconds = _duration_seconds(raw.strip())
    else:
        seconds = None
    if seconds is None:
        raise bad_param(name, code, f"{name}={raw!r} is not a duration ({DURATION_HELP}).")
    if seconds <= 0:
        raise bad_param(name, code, f"{name}={raw!r}: the duration must be greater than zero.")
    if seconds > _MAX_SECONDS:
        raise bad_param(name, code, f"{name}={raw!r} is too long a duration.")
    return timedelta(seconds=seconds)


def parse_time(raw: str | float | datetime | None, name: str, *, default: datetime | None = None,
               now: datetime | None = None, assume_utc: bool = True, code: str = "invalid_time") -> datetime:
    """An aware UTC-comparable datetime. Missing: `default` (no default: the parameter is required).

    A time without an offset is UTC, or refused when `assume_utc` is False (where the caller's clock
    may be local, e.g. dashboard time pickers)."""
    if raw is None or raw == "":
        if default is None:
            raise bad_param(name, code, f"{name} is required ({TIME_HELP}).")
        return default
    if isinstance(raw, datetime):
        parsed = raw
    elif isinstance(raw, (int, float, str)) and not isinstance(raw, bool):
        parsed = _parse_time_value(raw, name, now, code)
    else:
        raise bad_param(name, code, f"{name}={raw!r} is not a time ({TIME_HELP}).")
    if parsed.tzinfo is None:
        if not assume_utc:
            raise bad_param(name, code, f"{name}={raw!r} needs a timezone (e.g. Z).")
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _parse_time_value(raw: str | float, name: str, now: datetime | None, code: str) -> datetime:
    text = raw.strip() if isinstance(raw, str) else raw
    if isinstance(text, str) and (text == "now" or text.startswith("now-")):
        current = now or timezone.now()
        if text == "now":
            return current
        seconds = _duration_seconds(text[4:])
        if seconds is None or seconds < 0:
            raise bad_param(name, code, f"{name}={raw!r} is not a time ({TIME_HELP}).")
        try:
            return current - timedelta(seconds=seconds)
        except OverflowError as e:
            raise bad_param(name, code, f"{name}={raw!r} is too far back.") from e
    try:
        number: float | None = float(text)
    except ValueError:
        number = None
    try:
        if number is not None:
            return datetime.fromtimestamp(number / 1000 if abs(number) > _MILLISECONDS_FROM else number, tz=UTC)
        assert isinstance(text, str)
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError) as e:
        raise bad_param(name, code, f"{name}={raw!r} is not a time ({TIME_HELP}).") from e


def time_range(start: str | float | datetime | None, end: str | float | datetime | None, *,
               max_span: timedelta, since: str | float | timedelta | None = None,
               default_span: timedelta = timedelta(hours=1), now: datetime | None = None,
               assume_utc: bool = True, code: str | None = None,
               names: tuple[str, str] = ("start", "end")) -> TimeRange:
    """`start` and `end` (end defaults to now); without `start`, `since` (or `default_span`) before end.
    `names` are the parameters as the client sent them (e.g. `from`, `to`), for the messages.

    `code` replaces the specific codes (invalid_time, invalid_duration, invalid_range, range_too_large)
    for callers whose clients already rely on one code for every bad window."""
    start_name, end_name = names
    end_t = parse_time(end, end_name, default=now or timezone.now(), now=now, assume_utc=assume_utc,
                       code=code or "invalid_time")
    if start not in (None, ""):
        start_t = parse_time(start, start_name, now=now, assume_utc=assume_utc, code=code or "invalid_time")
    else:
        span = parse_duration(since, "since", default=default_span, code=code or "invalid_duration")
        try:
            start_t = end_t - span
        except OverflowError as e:
            raise bad_param("since", code or "invalid_duration", "The time range reaches before the year 1.") from e
    if start_t >= end_t:
        raise ServiceError(400, code or "invalid_range", f"{start_name} must be before {end_name}.",
                           {start_name: start, end_name: end})
    if end_t - start_t > max_span:
        raise ServiceError(400, code or "range_too_large",
                           f"The time range may span at most {_span_text(max_span)}.",
                           {"max_seconds": int(max_span.total_seconds())})
    return TimeRange(start_t, end_t)


def _span_text(span: timedelta) -> str:
    if span.days and span == timedelta(days=span.days):
        return f"{span.days} days"
    return f"{int(span.total_seconds())} seconds"


def parse_int(raw: str | int | None, name: str, *, default: int, minimum: int, maximum: int,
              code: str = "invalid_limit") -> int:
    """A whole number from `minimum` to `maximum` (limits, page sizes, bucket counts, context lines)."""
    if raw is None or raw == "":
        return default
    text = str(raw)
    if not _INTEGER.fullmatch(text) or not minimum <= int(text) <= maximum:
        raise bad_param(name, code, f"{name} must be an integer from {minimum} to {maximum}.")
    return int(text)
