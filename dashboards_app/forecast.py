"""Server-side forecasts of dashboard series: fit on days of history, project forward, and say when a
limit (a quota, a memory / CPU / disk limit) will be reached.

A timeseries panel with a `forecast` option (see spec.py) gets, on the target it names, a `forecast`
member: the method used, and per series the points projected FORWARD from the end of the range (never
over the past window), the limit that applies to it and the time until the projection reaches it.

Two methods (docs/capacity.md):

- `linear`: ordinary least squares, y = a + b·t, on the history;
- `seasonal`: least squares of a linear trend plus a daily cycle (two harmonics of one day), so a series
  that peaks every afternoon is forecast to reach its limit at a peak, not at the trend's average. It
  falls back to `linear` when the history is shorter than two seasons (a cycle needs two to be told apart
  from the trend), and says so in `note`.

The history is one coarse range query (default 7 days at a step giving at most MAX_HISTORY_POINTS
points) through the same org-enforcing federation as the panel itself, so a forecast can never read
beyond the org (or beyond the platform series an org may read).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from dashboards_app import interpolate, querying
from metrics_app.labels import org_label
from portal.errors import ServiceError
from portal.tenancy.models import Organization

METHODS = ("linear", "seasonal")
DEFAULT_METHOD = "linear"
DEFAULT_HORIZON = "30d"
DEFAULT_HISTORY = "7d"
DEFAULT_SEASON = "1d"
HARMONICS = 2  # a daily cycle with a sharper peak than a pure sine (business hours) needs the second one
MIN_POINTS = 6  # below this a slope is noise
MAX_HISTORY_POINTS = 600
FORECAST_POINTS = 360  # enough to draw a daily cycle over a 30 d horizon (12 points a day)
MAX_SERIES = 20  # forecasting is per series; a panel with hundreds of series gets the first ones
# Steps the history query may use: round numbers, so consecutive loads share federation's cache.
_HISTORY_STEPS = (15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400)

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Fit:
    """A fitted model: `predict(t)` for epoch seconds `t`."""

    method: str
    predict: Callable[[Array], Array]
    slope_per_second: float
    r2: float
    points: int
    span_seconds: float
    note: str = ""


@dataclass
class Crossing:
    """When the projection reaches `limit`: `seconds` from the forecast origin (0 = already reached)."""

    status: str  # reached | within_horizon | not_within_horizon | no_limit | insufficient_data
    seconds: float | None = None
    at: float | None = None


def _r2(y: Array, fitted: Array) -> float:
    total = float(np.sum((y - y.mean()) ** 2))
    if total == 0.0:
        return 1.0
    return 1.0 - float(np.sum((y - fitted) ** 2)) / total


def _clean(t: Any, y: Any) -> tuple[Array, Array]:
    ta, ya = np.asarray(t, dtype=np.float64), np.asarray(y, dtype=np.float64)
    ok = np.isfinite(ta) & np.isfinite(ya)
    order = np.argsort(ta[ok], kind="stable")
    return ta[ok][order], ya[ok][order]


def fit_linear(t: Any, y: Any) -> Fit:
    """Least squares y = a + b·t. Time is centred and scaled to days so the system is well conditioned."""
    ta, ya = _clean(t, y)
    if len(ta) < 2:
        raise ValueError("a linear fit needs at least two points")
    t0 = float(ta.mean())
    x = (ta - t0) / 86400.0
    design = np.column_stack([np.ones_like(x), x])
    coef, *_ = np.linalg.lstsq(design, ya, rcond=None)
    a, b = float(coef[0]), float(coef[1])

    def predict(tt: Array) -> Array:
        return a + b * (np.asarray(tt, dtype=np.float64) - t0) / 86400.0

    return Fit("linear", predict, b / 86400.0, _r2(ya, design @ coef), len(ta), float(ta[-1] - ta[0]))


def fit_seasonal(t: Any, y: Any, period: float = 86400.0, harmonics: int = HARMONICS) -> Fit:
    """Least squares of a linear trend plus `harmonics` harmonics of `period` (a daily cycle by default).

    Harmonic regression rather than Holt-Winters: no smoothing constants to tune, gaps and irregular
    steps need no filling, and the trend is the same least-squares slope as the linear method's, so the
    two methods differ only by the cycle. Less than two periods of history: the linear fit, with a note."""
    ta, ya = _clean(t, y)
    if len(ta) < 2:
        raise ValueError("a seasonal fit needs at least two points")
    span = float(ta[-1] - ta[0])
    if span < 2 * period or len(ta) < 2 + 2 * harmonics + MIN_POINTS:
        base = fit_linear(ta, ya)
        note = (f"history of {span / 3600:.1f} h is shorter than two seasons ({2 * period / 3600:.0f} h): "
                "fitted linearly")
        return Fit("linear", base.predict, base.slope_per_second, base.r2, base.points, base.span_seconds, note)
    t0 = float(ta.mean())

    def design(tt: Array) -> Array:
        x = (tt - t0) / 86400.0
        cols = [np.ones_like(x), x]
        for k in range(1, harmonics + 1):
            w = 2.0 * math.pi * k * tt / period  # phase from the epoch: the same cycle for every fit
            cols += [np.cos(w), np.sin(w)]
        return np.column_stack(cols)

    matrix = design(ta)
    coef, *_ = np.linalg.lstsq(matrix, ya, rcond=None)

    def predict(tt: Array) -> Array:
        return design(np.atleast_1d(np.asarray(tt, dtype=np.float64))) @ coef  # type: ignore[no-any-return]

    return Fit("seasonal", predict, float(coef[1]) / 86400.0, _r2(ya, matrix @ coef), len(ta), span)


def fit(method: str, t: Any, y: Any, period: float = 86400.0) -> Fit:
    if method == "linear":
        return fit_linear(t, y)
    if method == "seasonal":
        return fit_seasonal(t, y, period)
    raise ValueError(f"unknown forecast method {method!r}")


def project(model: Fit, origin: float, horizon: float, points: int = FORECAST_POINTS) -> list[list[Any]]:
    """`points`+1 [t, "value"] pairs from `origin` to `origin + horizon`, in the API's value format."""
    ts = origin + np.linspace(0.0, horizon, points + 1)
    return [[float(t), _fmt(float(v))] for t, v in zip(ts, model.predict(ts), strict=True)]


def time_to_limit(model: Fit, origin: float, horizon: float, limit: float | None,
                  current: float | None = None) -> Crossing:
    """When the projection first reaches `limit` (a ceiling: usage grows towards it) after `origin`.

    `current` (the last observed value) at or over the limit means "reached" whatever the fit says; a
    projection that never gets there within `horizon` is "not_within_horizon" (a flat or falling trend
    included)."""
    if limit is None or not math.isfinite(limit):
        return Crossing("no_limit")
    if current is not None and current >= limit:
        return Crossing("reached", 0.0, origin)
    # A grid fine enough for a daily cycle (≤ 10 min), then bisection between the bracketing points.
    n = int(min(20000, max(200, horizon / 600)))
    grid = origin + np.linspace(0.0, horizon, n + 1)
    values = model.predict(grid)
    over = np.nonzero(values >= limit)[0]
    if len(over) == 0:
        return Crossing("not_within_horizon")
    i = int(over[0])
    if i == 0:
        return Crossing("reached", 0.0, origin)
    lo, hi = float(grid[i - 1]), float(grid[i])
    for _ in range(40):
        mid = (lo + hi) / 2
        if float(model.predict(np.array([mid]))[0]) >= limit:
            hi = mid
        else:
            lo = mid
    return Crossing("within_horizon", hi - origin, hi)


# --- panel integration -------------------------------------------------------------------------------

@dataclass
class _Limits:
    """The limit series of a panel (instant values at the forecast origin), matched to each series."""

    series: list[tuple[dict[str, str], float]] = field(default_factory=list)

    def for_labels(self, metric: dict[str, str]) -> float | None:
        """The limit whose labels agree with the series on every label both have (so a limit without
        labels applies to every series). Several agree: the one sharing the most labels, then the lowest."""
        best: tuple[int, float] | None = None
        for labels, value in self.series:
            shared = [k for k in labels if k != "__name__" and k in metric]
            if any(labels[k] != metric[k] for k in shared):
                continue
            key = (len(shared), -value)
            if best is None or key > (best[0], -best[1]):
                best = (len(shared), value)
        return None if best is None else best[1]


def history_step(seconds: int) -> int:
    """The smallest round step giving at most MAX_HISTORY_POINTS points over `seconds`."""
    for step in _HISTORY_STEPS:
        if seconds / step <= MAX_HISTORY_POINTS:
            return step
    return _HISTORY_STEPS[-1]


def attach(org: Organization, panel: dict[str, Any], results: list[dict[str, Any]],
           variables: dict[str, Any], start: float, end: float, step: int, cross_org: Any = None) -> None:
    """Add a `forecast` member to the panel's forecast target in `results` (the panel data's targets).

    A bad limit expression reports its error on the forecast without hiding the panel's data; a backend
    failure (5xx) fails the panel, as the targets' own queries do."""
    opts = panel.get("forecast")
    if not opts or panel.get("type") != "timeseries" or not panel.get("targets"):
        return
    target = next((t for t in panel["targets"] if t.get("refId") == opts.get("target")), panel["targets"][0])
    item = next((r for r in results if r.get("refId") == target.get("refId")), None)
    if item is None or "error" in item:
        return
    try:
        item["forecast"] = compute(org, target["expr"], opts, variables, start, end, cross_org)
    except ServiceError as exc:
        if exc.status_code >= 500:
            raise
        item["forecast"] = {"method": opts.get("method", DEFAULT_METHOD),
                            "error": {"status": exc.status_code, "code": exc.code, "message": exc.message,
                                      "details": exc.details}}


def compute(org: Organization, raw_expr: str, opts: dict[str, Any], variables: dict[str, Any],
            start: float, end: float, cross_org: Any = None) -> dict[str, Any]:
    """The forecast of `raw_expr` (a panel target, before interpolation) from `end` on."""
    from dashboards_app.spec import duration_seconds

    method = opts.get("method", DEFAULT_METHOD)
    horizon = duration_seconds(opts.get("horizon") or DEFAULT_HORIZON)
    hist = duration_seconds(opts.get("history") or DEFAULT_HISTORY)
    period = float(duration_seconds(opts.get("season") or DEFAULT_SEASON))
    step = history_step(hist)
    data = _history(org, raw_expr, variables, start, end, hist, step, cross_org)
    if _longest(data) < MIN_POINTS:
        # A young deployment (or a new series): refit on what exists, at a step fine enough for it.
        first = min((float(s["values"][0][0]) for s in data if s.get("values")), default=end - step)
        window = int(max(end - first + step, 600))
        fine = max(1, math.ceil(window / MAX_HISTORY_POINTS))
        data = _history(org, raw_expr, variables, start, end, window, fine, cross_org)
        step = fine
    limits = _limits(org, opts, variables, start, end, cross_org)
    series = [_one(s, method, period, end, horizon, limits, opts.get("limit_label") or "limit")
              for s in data[:MAX_SERIES]]
    return {"method": method, "horizon": horizon, "history": hist, "history_step": step, "from": end,
            "limit_label": opts.get("limit_label") or "limit", "series": series}


def _history(org: Organization, raw_expr: str, variables: dict[str, Any], start: float, end: float,
             seconds: int, step: int, cross_org: Any) -> list[dict[str, Any]]:
    # Macros as for a panel of the history's own resolution ($__rate_interval spans a history step), but
    # $__range keeps the panel's meaning.
    macros = {**interpolate.macros(end - seconds, end, step, org_label(org)[0]),
              **{k: v for k, v in interpolate.macros(start, end, step).items() if k.startswith("__range")}}
    expr = interpolate.interpolate(raw_expr, variables, macros)
    result: list[dict[str, Any]] = querying.history(org, expr, end, seconds, step, cross_org).get("result", [])
    return result


def _longest(series: list[dict[str, Any]]) -> int:
    return max((len(s.get("values") or []) for s in series), default=0)


def _limits(org: Organization, opts: dict[str, Any], variables: dict[str, Any], start: float, end: float,
            cross_org: Any) -> _Limits:
    if opts.get("limit") is not None:
        return _Limits([({}, float(opts["limit"]))])
    expr = opts.get("limit_expr") or ""
    if not expr:
        return _Limits()
    expr = interpolate.interpolate(expr, variables, interpolate.macros(start, end, 60, org_label(org)[0]))
    data = querying.query_instant(org, expr, end, 1, cross_org)
    if data.get("resultType") == "scalar":
        return _Limits([({}, float(data["result"][1]))])
    out = []
    for s in data.get("result", []):
        value = float(s["value"][1])
        if math.isfinite(value):
            out.append(({k: v for k, v in s.get("metric", {}).items() if k != "__name__"}, value))
    return _Limits(out)


def _one(series: dict[str, Any], method: str, period: float, origin: float, horizon: int, limits: _Limits,
         limit_label: str) -> dict[str, Any]:
    metric = series.get("metric", {})
    values = series.get("values") or []
    t, y = _clean([float(v[0]) for v in values], [float(v[1]) for v in values])
    limit = limits.for_labels(metric)
    out: dict[str, Any] = {"metric": metric, "method": method, "limit": limit, "values": []}
    if len(t) < MIN_POINTS:
        out.update(status="insufficient_data", time_to_limit=None, limit_at=None,
                   note=f"{len(t)} points of history; at least {MIN_POINTS} are needed")
        return out
    model = fit(method, t, y, period)
    crossing = time_to_limit(model, origin, horizon, limit, float(y[-1]))
    out.update(method=model.method, values=project(model, origin, horizon), status=crossing.status,
               time_to_limit=crossing.seconds, limit_at=crossing.at, note=model.note,
               fit={"slope_per_day": model.slope_per_second * 86400, "r2": round(model.r2, 4),
                    "points": model.points, "history_seconds": model.span_seconds})
    return out


def _fmt(v: float) -> str:
    return repr(v) if math.isfinite(v) else "NaN"
