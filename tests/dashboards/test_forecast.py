"""Capacity forecasting (dashboards_app/forecast.py): the fits on known curves, the panel option, and the
whole path on a real Prometheus holding a week of backfilled history with a known trend (and a known
daily cycle): the predicted exhaustion time is within 10 % of the truth for both methods, forecast
points lie after now, and the capacity dashboard draws them (screenshot in test-output/)."""

from __future__ import annotations

import math
import random
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rest_framework.test import APIClient

from dashboards_app import forecast, spec
from portal.errors import ServiceError
from tests import procs

DAY = 86400.0
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


# --- the fits ----------------------------------------------------------------------------------------

def _grid(days: float, step: float = 1200.0, end: float = 1_760_000_000.0) -> np.ndarray:
    return np.arange(end - days * DAY, end + 1, step)


def test_linear_fit_recovers_slope_and_crossing() -> None:
    t = _grid(7)
    y = 100 + 50 * (t - t[0]) / DAY  # 50 a day, 450 at the end
    model = forecast.fit_linear(t, y)
    assert model.method == "linear"
    assert model.slope_per_second * DAY == pytest.approx(50, rel=1e-6)
    assert model.r2 == pytest.approx(1.0)
    crossing = forecast.time_to_limit(model, float(t[-1]), 30 * DAY, 1000, float(y[-1]))
    assert crossing.status == "within_horizon"
    assert crossing.seconds == pytest.approx(11 * DAY, rel=1e-4)  # (1000 - 450) / 50 days
    assert crossing.at == pytest.approx(t[-1] + 11 * DAY, rel=1e-9)


def test_linear_fit_ignores_gaps_and_nan() -> None:
    t = _grid(3)
    y = 10 + 2 * (t - t[0]) / DAY
    y[5:40] = np.nan  # a scrape outage
    model = forecast.fit_linear(t, y)
    assert model.slope_per_second * DAY == pytest.approx(2, rel=1e-6)
    assert model.points == len(t) - 35


def test_time_to_limit_statuses() -> None:
    t = _grid(7)
    rising = forecast.fit_linear(t, 100 + 10 * (t - t[0]) / DAY)  # 170 now
    falling = forecast.fit_linear(t, 500 - 10 * (t - t[0]) / DAY)
    now = float(t[-1])
    assert forecast.time_to_limit(rising, now, 30 * DAY, None).status == "no_limit"
    assert forecast.time_to_limit(rising, now, 30 * DAY, 150, 170).status == "reached"
    assert forecast.time_to_limit(rising, now, 30 * DAY, 150, 170).seconds == 0
    assert forecast.time_to_limit(rising, now, 5 * DAY, 1000, 170).status == "not_within_horizon"
    assert forecast.time_to_limit(falling, now, 365 * DAY, 1000, 430).status == "not_within_horizon"
    assert forecast.time_to_limit(rising, now, 10 * DAY, 250, 170).seconds == pytest.approx(8 * DAY, rel=1e-4)


def test_seasonal_fit_finds_the_first_peak_over_the_limit() -> None:
    rng = np.random.default_rng(7)
    t = _grid(7)

    def truth(tt: np.ndarray) -> np.ndarray:
        return 200 + 40 * (tt - t[0]) / DAY + 60 * np.sin(2 * math.pi * tt / DAY + 1.0)

    y = truth(t) + rng.normal(0, 3, len(t))
    now, limit = float(t[-1]), 900.0
    fine = now + np.arange(0, 30 * DAY, 60.0)
    true_seconds = float(fine[np.argmax(truth(fine) >= limit)] - now)
    seasonal = forecast.fit_seasonal(t, y)
    assert seasonal.method == "seasonal" and seasonal.r2 > 0.99
    got = forecast.time_to_limit(seasonal, now, 30 * DAY, limit, float(y[-1]))
    assert got.status == "within_horizon"
    assert abs(got.seconds - true_seconds) <= 0.1 * true_seconds  # type: ignore[operator]
    # The linear fit of the same data misses the daily peaks: it says later than the truth.
    linear = forecast.time_to_limit(forecast.fit_linear(t, y), now, 30 * DAY, limit, float(y[-1]))
    assert linear.seconds > true_seconds  # type: ignore[operator]


def test_seasonal_falls_back_to_linear_on_short_history() -> None:
    t = _grid(1.5)
    model = forecast.fit_seasonal(t, 5 + (t - t[0]) / DAY)
    assert model.method == "linear" and "shorter than two seasons" in model.note


def test_projection_runs_forward_from_the_origin() -> None:
    t = _grid(7)
    model = forecast.fit_linear(t, 1 + (t - t[0]) / DAY)
    points = forecast.project(model, float(t[-1]), 14 * DAY)
    assert points[0][0] == t[-1] and points[-1][0] == pytest.approx(t[-1] + 14 * DAY)
    assert all(b[0] > a[0] for a, b in zip(points, points[1:], strict=False))
    assert float(points[-1][1]) == pytest.approx(8 + 14, rel=1e-6)


def test_history_step_keeps_points_bounded() -> None:
    assert forecast.history_step(7 * 86400) == 1200
    assert forecast.history_step(3600) == 15
    assert 32 * 86400 / forecast.history_step(32 * 86400) <= forecast.MAX_HISTORY_POINTS


def test_limits_are_matched_by_shared_labels() -> None:
    limits = forecast._Limits([({"org_id": "acme"}, 10.0), ({"org_id": "globex"}, 20.0)])
    assert limits.for_labels({"org_id": "globex", "x": "1"}) == 20.0
    assert limits.for_labels({"org_id": "other"}) is None
    assert forecast._Limits([({}, 3.0)]).for_labels({"org_id": "acme"}) == 3.0


# --- the panel option --------------------------------------------------------------------------------

def _panel(**fc: Any) -> dict[str, Any]:
    return {"title": "t", "panels": [{"type": "timeseries", "targets": [{"expr": "up"}], "forecast": fc}]}


def test_forecast_option_is_normalized() -> None:
    doc = spec.normalize(_panel(method="seasonal", limit_expr="max(org_quota_limit)"))
    assert doc["panels"][0]["forecast"] == {
        "method": "seasonal", "horizon": "30d", "history": "7d", "season": "1d", "target": "A",
        "limit": None, "limit_expr": "max(org_quota_limit)", "limit_label": ""}
    assert "forecast" not in spec.normalize({"title": "t", "panels": [{"targets": [{"expr": "up"}]}]})["panels"][0]


@pytest.mark.parametrize(("fc", "field"), [
    ({"method": "magic"}, "panels[0].forecast.method"),
    ({"horizon": "2y"}, "panels[0].forecast.horizon"),
    ({"history": "90d"}, "panels[0].forecast.history"),
    ({"target": "Z"}, "panels[0].forecast.target"),
    ({"limit": "lots"}, "panels[0].forecast.limit"),
    ({"limit": 1, "limit_expr": "up"}, "panels[0].forecast"),
])
def test_bad_forecast_options_name_the_field(fc: dict[str, Any], field: str) -> None:
    with pytest.raises(ServiceError) as exc:
        spec.normalize(_panel(**fc))
    assert exc.value.status_code == 400 and exc.value.details["field"] == field


def test_forecast_only_on_timeseries() -> None:
    """A panel switched to another type (in the editor) drops its forecast instead of failing to save."""
    doc = {"title": "t", "panels": [{"type": "stat", "targets": [{"expr": "up"}], "forecast": {"method": "x"}}]}
    assert "forecast" not in spec.normalize(doc)["panels"][0]


# --- on a real Prometheus with a week of known history -----------------------------------------------

HISTORY_DAYS = 7
SAMPLE_EVERY = 120
LIMITS = {"linear": 1000.0, "seasonal": 900.0}


def _linear(t: float, start: float) -> float:
    return 200 + 40 * (t - start) / DAY


def _seasonal(t: float, start: float) -> float:
    return 200 + 40 * (t - start) / DAY + 60 * math.sin(2 * math.pi * t / DAY + 1.0)


TRUTH: dict[str, Callable[[float, float], float]] = {"linear": _linear, "seasonal": _seasonal}


def _openmetrics(families: dict[str, list[tuple[dict[str, str], list[tuple[float, float]]]]]) -> str:
    lines = []
    for name, series in families.items():
        # A histogram's `_sum` alone is written untyped (OpenMetrics counters must end in _total).
        lines.append(f"# TYPE {name} {'unknown' if name.endswith('_sum') else 'gauge'}")
        for labels, samples in series:
            lab = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
            lines += [f"{name}{{{lab}}} {v!r} {int(ts)}" for ts, v in samples]
    return "\n".join(lines) + "\n# EOF\n"


def _backfilled_prometheus(families: dict[str, Any], rules: str = "") -> procs.Proc:
    """A Prometheus whose data dir holds `families`, written as TSDB blocks by promtool before it starts."""
    import tempfile

    workdir = Path(tempfile.mkdtemp(prefix="prom-forecast-"))
    source = workdir / "history.om"
    source.write_text(_openmetrics(families))
    subprocess.run([PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", "-q", str(source), str(workdir / "data")],
                   check=True, capture_output=True, timeout=120)
    config = "global:\n  scrape_interval: 15s\n  evaluation_interval: 15s\n"
    if rules:
        (workdir / "rules").mkdir(exist_ok=True)
        (workdir / "rules" / "platform.yml").write_text(rules)
        config += f"rule_files:\n  - {workdir / 'rules'}/*.yml\n"
    return procs.start_prometheus(config=config, workdir=workdir)


@pytest.fixture(scope="module")
def known_history() -> Iterator[tuple[procs.Proc, float]]:
    end = float(int(time.time()))
    start = end - HISTORY_DAYS * DAY
    rng = random.Random(11)
    stamps = [start + i * SAMPLE_EVERY for i in range(int((end - start) // SAMPLE_EVERY) + 1)]
    usage, limits = [], []
    for shape, fn in TRUTH.items():
        for org in ("acme", "globex"):
            scale = 1.0 if org == "acme" else 0.5  # globex's own numbers: never in acme's answer
            usage.append(({"org_id": org, "shape": shape},
                          [(ts, scale * fn(ts, start) + rng.gauss(0, 3)) for ts in stamps]))
            limits.append(({"org_id": org, "shape": shape}, [(ts, LIMITS[shape]) for ts in stamps]))
    prom = _backfilled_prometheus({"capacity_test_usage": usage, "capacity_test_limit": limits})
    yield prom, end
    prom.cleanup()


def _true_seconds(shape: str, origin: float, start: float) -> float:
    ts = np.arange(origin, origin + 60 * DAY, 60.0)
    values = np.array([TRUTH[shape](float(t), start) for t in ts])
    return float(ts[np.argmax(values >= LIMITS[shape])] - origin)


def _dashboard(client: APIClient, method: str, **extra: Any) -> str:
    fc = {"method": method, "horizon": "30d", "history": "7d",
          "limit_expr": "max by (shape) (capacity_test_limit)", "limit_label": "quota", **extra}
    doc = {"title": f"forecast {method}", "panels": [
        {"type": "timeseries", "title": "usage", "targets": [{"expr": "capacity_test_usage", "legend": "{{shape}}"}],
         "forecast": fc}]}
    r = client.post("/api/v1/dashboards/", doc, format="json")
    assert r.status_code == 201, r.content
    return str(r.json()["uid"])


@pytest.mark.django_db
@pytest.mark.backends
@pytest.mark.parametrize("method", ["linear", "seasonal"])
def test_predicted_exhaustion_within_ten_percent(known_history: tuple[procs.Proc, float], settings: Any,
                                                 api_alice: APIClient, method: str) -> None:
    prom, end = known_history
    settings.PROMETHEUS_URL = prom.url
    uid = _dashboard(api_alice, method)
    before = time.time()
    r = api_alice.get(f"/api/v1/dashboards/{uid}/data/", {"from": "now-6h", "to": "now"})
    assert r.status_code == 200, r.content
    body = r.json()
    target = body["panels"]["1"]["targets"][0]
    assert target["result"], "the panel's own data"
    fc = target["forecast"]
    assert fc["method"] == method and fc["horizon"] == 30 * DAY and fc["history"] == 7 * DAY
    origin = fc["from"]
    assert origin == body["end"] and origin >= before - 1
    by_shape = {s["metric"]["shape"]: s for s in fc["series"]}
    assert set(by_shape) == {"linear", "seasonal"}
    assert all(s["metric"]["org_id"] == "acme" for s in fc["series"])
    one = by_shape[method]
    assert one["method"] == method and one["limit"] == LIMITS[method]
    assert one["fit"]["history_seconds"] >= 6.5 * DAY  # fitted on days, not on the panel's 6 hours
    # Points are drawn forward: from now to now + horizon, none over the past window.
    times = [p[0] for p in one["values"]]
    assert times[0] >= origin and times[-1] == pytest.approx(origin + 30 * DAY) and max(times) > time.time()
    truth = _true_seconds(method, origin, end - HISTORY_DAYS * DAY)
    assert one["status"] == "within_horizon"
    assert abs(one["time_to_limit"] - truth) <= 0.1 * truth, (one["time_to_limit"] / DAY, truth / DAY)
    assert one["limit_at"] == pytest.approx(origin + one["time_to_limit"])


@pytest.mark.django_db
@pytest.mark.backends
def test_forecast_reads_only_the_org(known_history: tuple[procs.Proc, float], settings: Any,
                                     api_alice: APIClient, api_charlie: APIClient) -> None:
    prom, _ = known_history
    settings.PROMETHEUS_URL = prom.url
    uid = _dashboard(api_alice, "linear")
    assert api_charlie.get(f"/api/v1/dashboards/{uid}/data/").status_code == 404
    own = _dashboard(api_charlie, "linear")
    body = api_charlie.get(f"/api/v1/dashboards/{own}/data/", {"from": "now-6h", "to": "now"}).json()
    series = body["panels"]["1"]["targets"][0]["forecast"]["series"]
    assert {s["metric"]["org_id"] for s in series} == {"globex"}
    # globex's curve is half of acme's, so its (same) limits are further away than acme's.
    linear = next(s for s in series if s["metric"]["shape"] == "linear")
    assert linear["status"] == "not_within_horizon"


@pytest.mark.django_db
@pytest.mark.backends
def test_bad_limit_expression_is_reported_on_the_forecast(known_history: tuple[procs.Proc, float], settings: Any,
                                                          api_alice: APIClient) -> None:
    prom, _ = known_history
    settings.PROMETHEUS_URL = prom.url
    uid = _dashboard(api_alice, "linear", limit_expr="max(capacity_test_limit{org_id=\"globex\"})")
    r = api_alice.get(f"/api/v1/dashboards/{uid}/data/", {"from": "now-6h", "to": "now"})
    assert r.status_code == 200
    target = r.json()["panels"]["1"]["targets"][0]
    assert target["result"]  # the panel still draws
    assert target["forecast"]["error"]["code"] == "foreign_org_matcher"
    fixed = _dashboard(api_alice, "linear", limit=5000, limit_expr="")
    series = api_alice.get(f"/api/v1/dashboards/{fixed}/data/").json()["panels"]["1"]["targets"][0]["forecast"]
    assert {s["limit"] for s in series["series"]} == {5000}


# --- the capacity dashboard in the browser -----------------------------------------------------------

def _capacity_week(end: float) -> dict[str, Any]:
    """A week of the contract's series for acme and globex: growing token traffic (with a daily cycle),
    quotas, and the platform saturation series (the recording rules' output) per service."""
    start = end - HISTORY_DAYS * DAY
    stamps = [start + i * 300 for i in range(int((end - start) // 300) + 1)]
    cycle = [math.sin(2 * math.pi * ts / DAY) for ts in stamps]
    families: dict[str, Any] = {"gen_ai_client_token_usage_sum": [], "org_quota_limit": []}
    for org, weight in (("acme", 1.0), ("globex", 0.6)):
        for token_type, share in (("input", 0.75), ("output", 0.25)):
            total, samples = 0.0, []
            for ts, c in zip(stamps, cycle, strict=True):
                per_s = weight * share * (2000 + 200 * (ts - start) / DAY) * (1 + 0.3 * c)
                total += per_s * 300
                samples.append((ts, total))
            families["gen_ai_client_token_usage_sum"].append(({
                "org_id": org, "gen_ai_request_model": "gpt-4o", "gen_ai_token_type": token_type,
                "api_key": f"{org}-prod", "job": "api-router", "instance": "api-router-0:8080/metrics",
                "service_name": "api-router"}, samples))
        for resource, quota in (("tokens", 12e9 * weight), ("spend_usd", 60000.0 * weight)):
            families["org_quota_limit"].append(({
                "org_id": org, "resource": resource, "job": "user-org-service",
                "instance": "user-org-service-0:8080/metrics", "service_name": "user-org-service"},
                [(ts, quota) for ts in stamps]))
    for kind, base, slope, amp in (("memory", 0.45, 0.03, 0.08), ("cpu", 0.3, 0.02, 0.15), ("disk", 0.5, 0.025, 0.0)):
        name = f"platform:service_{kind}_saturation:ratio"
        families[name] = []
        for i, svc in enumerate(("api-router", "user-org-service", "analytics-service", "model-serving")):
            values = [(ts, base + 0.05 * i + slope * (ts - start) / DAY + amp * c)
                      for ts, c in zip(stamps, cycle, strict=True)]
            families[name].append(({"service_name": svc}, values))
    return families


@pytest.fixture(scope="module")
def capacity_prometheus() -> Iterator[procs.Proc]:
    prom = _backfilled_prometheus(_capacity_week(float(int(time.time()))))
    yield prom
    prom.cleanup()


@pytest.mark.browser
@pytest.mark.backends
def test_capacity_dashboard_draws_forecasts(transactional_db: Any, live_server: Any, settings: Any,
                                            capacity_prometheus: procs.Proc, browser: Any, alice: Any,
                                            output_dir: Path) -> None:
    from tests.dashboards.test_browser import login, panel_points, wait_loaded

    settings.PROMETHEUS_URL = capacity_prometheus.url
    page = login(browser, live_server.url, "alice@acme.example")
    page.set_default_timeout(60000)  # a shared 2-core machine: the week of history is queried cold
    page.goto(live_server.url + "/o/acme/dashboards/builtin/capacity-planning/", wait_until="domcontentloaded")
    wait_loaded(page)
    page.wait_for_timeout(500)
    page.screenshot(path=str(output_dir / "capacity-planning.png"), full_page=True)
    points = panel_points(page)
    assert points and all(n > 0 for n in points.values()), points
    notes = page.eval_on_selector_all(".forecast-note", "els => els.map(e => e.textContent)")
    assert len(notes) == 5, notes
    assert any("token quota reached in" in n and "days" in n for n in notes), notes
    forecast_points = page.eval_on_selector_all(
        "#grid > .panel .panel-body[data-forecast-points]", "els => els.map(e => Number(e.dataset.forecastPoints))")
    assert len(forecast_points) == 5 and all(n > 0 for n in forecast_points), forecast_points
    # Forecast traces are dashed and lie after now.
    dashed = page.evaluate("""() => {
        const body = document.querySelector("[data-panel-id='1'] .panel-body");
        const fc = body.data.filter(t => t.line && t.line.dash === 'dash');
        return {n: fc.length, first: Math.min(...fc.map(t => +t.x[0])), now: Date.now()};
    }""")
    assert dashed["n"] == 1 and dashed["first"] >= dashed["now"] - 120_000, dashed
    page.context.close()


@pytest.mark.django_db
@pytest.mark.backends
def test_staff_see_each_org_against_its_own_quota(capacity_prometheus: procs.Proc, settings: Any, operator: Any,
                                                  org_a: Any, api_alice: APIClient) -> None:
    from tests.conftest import token_client

    settings.PROMETHEUS_URL = capacity_prometheus.url
    staff = token_client(org_a, operator)
    body = staff.get("/api/v1/builtin-dashboards/capacity-planning/data/", {"panel": 1}).json()
    assert body["scope"] == "platform"
    series = body["panels"]["1"]["targets"][0]["forecast"]["series"]
    assert {s["metric"]["org_id"]: s["limit"] for s in series} == {"acme": 12e9, "globex": 0.6 * 12e9}
    assert all(s["status"] == "within_horizon" for s in series)
    own = api_alice.get("/api/v1/builtin-dashboards/capacity-planning/data/", {"panel": 1}).json()
    assert [s["metric"]["org_id"] for s in own["panels"]["1"]["targets"][0]["forecast"]["series"]] == ["acme"]


@pytest.mark.django_db
@pytest.mark.backends
def test_capacity_forecasts_on_the_demo_deployment(live_prom: procs.Proc, api_bob: APIClient) -> None:
    """An org viewer on the (young) demo deployment: every panel has data and every forecast is computed,
    refitted on the minutes of history there are (a few seconds in, there is not enough yet: wait for it)."""
    def fetch() -> dict[str, Any]:
        return api_bob.get("/api/v1/builtin-dashboards/capacity-planning/data/",  # type: ignore[no-any-return]
                           {"from": "now-5m", "to": "now"}).json()

    def ready(b: dict[str, Any]) -> bool:
        return all(s["status"] != "insufficient_data" for p in b["panels"].values() for t in p["targets"]
                   for s in t.get("forecast", {}).get("series", []))

    body = fetch()
    deadline = time.monotonic() + 90
    while not ready(body) and time.monotonic() < deadline:
        time.sleep(3)
        body = fetch()
    assert body["scope"] == "org"
    forecasts = 0
    for pid, panel in body["panels"].items():
        for t in panel["targets"]:
            assert "error" not in t and t["result"], (pid, t)
            if "forecast" in t:
                forecasts += 1
                assert "error" not in t["forecast"], t["forecast"]
                assert t["forecast"]["series"] and all(s["values"] for s in t["forecast"]["series"]), t["forecast"]
    assert forecasts == 5
