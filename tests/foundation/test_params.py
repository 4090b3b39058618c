"""The one parser of time, range, duration and limit parameters (portal/core/params.py), and the APIs that
use it answering the same way for the same bad value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from portal.core import params
from portal.errors import ServiceError

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
DAY = timedelta(days=1)


def _error(fn: Any, *args: Any, **kwargs: Any) -> ServiceError:
    with pytest.raises(ServiceError) as e:
        fn(*args, **kwargs)
    assert e.value.status_code == 400
    return e.value


@pytest.mark.parametrize(("raw", "expected"), [
    ("now", NOW),
    ("now-15m", NOW - timedelta(minutes=15)),
    ("now-1h30m", NOW - timedelta(minutes=90)),
    ("now-1y", NOW - timedelta(days=365)),
    ("1767323045", NOW),
    ("1767323045000", NOW),  # milliseconds
    (1767323045.0, NOW),
    ("2026-01-02T03:04:05Z", NOW),
    ("2026-01-02T04:04:05+01:00", NOW),
    ("2026-01-02T03:04:05", NOW),  # no offset: UTC
])
def test_times(raw: Any, expected: datetime) -> None:
    assert params.parse_time(raw, "start", now=NOW) == expected


@pytest.mark.parametrize("raw", ["yesterday", "now-5x", "now+1h", "1e30", "nan", "2026-13-45T00:00:00",
                                 "now-99999999999999w", "now-" + "9" * 5000 + "d"])
def test_bad_times_name_the_parameter(raw: str) -> None:
    err = _error(params.parse_time, raw, "start", now=NOW)
    assert err.code == "invalid_time" and err.details == {"param": "start"}
    assert "start" in err.message


def test_a_time_without_offset_may_be_refused() -> None:
    err = _error(params.parse_time, "2026-01-02T03:04:05", "from", now=NOW, assume_utc=False)
    assert "timezone" in err.message


@pytest.mark.parametrize(("raw", "seconds"), [("30s", 30), ("5m", 300), ("1h30m", 5400), ("7d", 604800),
                                              ("1w", 604800), ("500ms", 0.5), ("15", 15), (2.5, 2.5)])
def test_durations(raw: Any, seconds: float) -> None:
    assert params.parse_duration(raw, "step").total_seconds() == seconds


@pytest.mark.parametrize("raw", ["forever", "-5m", "0", "0s", "5x", "1m1h", "99999999999d", "inf"])
def test_bad_durations(raw: str) -> None:
    err = _error(params.parse_duration, raw, "step")
    assert err.code == "invalid_duration" and err.details == {"param": "step"}


def test_time_ranges() -> None:
    r = params.time_range(None, None, now=NOW, max_span=DAY)
    assert (r.start, r.end) == (NOW - timedelta(hours=1), NOW)
    r = params.time_range(None, "now-1h", since="15m", now=NOW, max_span=DAY)
    assert (r.start, r.end) == (NOW - timedelta(minutes=75), NOW - timedelta(hours=1))
    assert _error(params.time_range, "now", "now-1h", now=NOW, max_span=DAY).code == "invalid_range"
    assert _error(params.time_range, "now-2d", None, now=NOW, max_span=DAY).code == "range_too_large"
    assert _error(params.time_range, None, "0001-01-01T00:30:00Z", now=NOW, max_span=DAY).code == "invalid_duration"
    assert _error(params.time_range, "now", "now-1h", now=NOW, max_span=DAY, code="invalid").code == "invalid"


@pytest.mark.parametrize("raw", ["0", "1001", "-1", "abc", "1.5", " 5", "9" * 5000])
def test_bad_limits(raw: str) -> None:
    err = _error(params.parse_int, raw, "limit", default=100, minimum=1, maximum=1000)
    assert err.code == "invalid_limit" and err.message == "limit must be an integer from 1 to 1000."


def test_limits() -> None:
    assert params.parse_int(None, "limit", default=100, minimum=1, maximum=1000) == 100
    assert params.parse_int("1000", "limit", default=100, minimum=1, maximum=1000) == 1000


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/logs/search", "/api/v1/logs/histogram", "/api/v1/traces/search",
                                  "/api/v1/explore/labels/", "/prometheus/api/v1/labels"])
def test_every_api_reads_start_the_same_way(path: str, api_bob: Any) -> None:
    """The same bad `start` gets the same code from logs, traces, Explore and the Prometheus API."""
    key = "from" if "explore" in path else "start"
    resp = api_bob.get(path, {key: "yesterday"})
    assert resp.status_code == 400, resp.content
    body = resp.json()
    # The Prometheus-compatible API answers in Prometheus' own error shape, with the portal's code beside.
    error = body if path.startswith("/prometheus/") else body["error"]
    assert error["code"] == "invalid_time"
    assert f"{key}='yesterday'" in (error["error"] if path.startswith("/prometheus/") else error["message"])
