"""Time ranges, steps, variables and Grafana macros."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dashboards_app import interpolate
from portal.errors import ServiceError

NOW = 1_700_000_000.0


def test_time_points() -> None:
    assert interpolate.parse_time("now", NOW) == NOW
    assert interpolate.parse_time("now-6h", NOW) == NOW - 6 * 3600
    assert interpolate.parse_time("now-7d", NOW) == NOW - 7 * 86400
    assert interpolate.parse_time("1699990000", NOW) == 1699990000
    assert interpolate.parse_time("2023-11-14T22:13:20Z", NOW) == NOW
    for bad in ("yesterday", "2023-11-14T22:13:20", "now-5x"):
        with pytest.raises(ServiceError) as e:
            interpolate.parse_time(bad, NOW)
        assert e.value.status_code == 400
    with pytest.raises(ServiceError):
        interpolate.time_range("now", "now-1h", NOW)
    with pytest.raises(ServiceError):
        interpolate.time_range("now-500d", "now", NOW)


def test_steps_and_macros() -> None:
    assert interpolate.auto_step(NOW - 3600, NOW) == 15
    assert interpolate.auto_step(NOW - 300, NOW) == 2
    assert interpolate.auto_step(NOW - 3600, NOW, "1m") == 60
    assert interpolate.auto_step(NOW - 30 * 86400, NOW, "1") >= 236  # never more than Prometheus' 11,000 points
    m = interpolate.macros(NOW - 3600, NOW, 15)
    assert m["__interval"] == "15s" and m["__rate_interval"] == "1m" and m["__range"] == "1h"
    assert interpolate.macros(NOW - 86400, NOW, 360)["__rate_interval"] == "375s"


def test_variables() -> None:
    b = interpolate.macros(NOW - 3600, NOW, 15)
    values = {"svc": "api-router", "models": ["gpt-4o", "llama.3"], "all": ".*", "win": "5m"}
    assert interpolate.interpolate('rate(x{service="$svc"}[$__rate_interval])', values, b) == \
        'rate(x{service="api-router"}[1m])'
    assert interpolate.interpolate('x{model=~"${models}"}[$win]', values, b) == 'x{model=~"(gpt-4o|llama\\\\.3)"}[5m]'
    assert interpolate.interpolate('x{model=~"[[svc]]"} ${svc:raw} $unknown', values, b) == \
        'x{model=~"api-router"} api-router $unknown'
    with pytest.raises(ServiceError) as e:
        interpolate.interpolate("x{a=\"$svc\"}", {"svc": 'a"} or vector(1) #'}, b)
    assert e.value.code == "invalid_variable"


def test_resolve_variables_defaults() -> None:
    defs = [{"name": "a", "includeAll": True, "current": None, "options": []},
            {"name": "b", "includeAll": False, "current": None, "options": ["x", "y"]},
            {"name": "c", "includeAll": False, "current": "y", "options": ["x", "y"]}]
    assert interpolate.resolve_variables(defs, {}, {}) == {"a": ".*", "b": "x", "c": "y"}
    assert interpolate.resolve_variables(defs, {"a": ["p", "q"], "c": "x"}, {}) == {"a": ["p", "q"], "b": "x", "c": "x"}
    assert interpolate.resolve_variables(defs, {"a": ["p", "$__all"]}, {})["a"] == ".*"


def test_org_label_macro_names_the_configured_label() -> None:
    assert interpolate.macros(NOW - 3600, NOW, 15)["__org_label"] == "org_id"
    b = interpolate.macros(NOW - 3600, NOW, 15, "tenant")
    assert interpolate.interpolate("sum by (service_name, $__org_label) (rate(x[1m]))", {}, b) == \
        "sum by (service_name, tenant) (rate(x[1m]))"


def test_no_builtin_dashboard_hard_codes_the_org_label() -> None:
    """The staff breakdowns say `$__org_label`, so a datasource whose org label is not org_id still splits by org."""
    from dashboards_app import builtin

    for slug, doc in builtin.all_builtins():
        assert "org_id" not in json.dumps([p.get("targets") for p in doc["panels"]]), slug


@pytest.mark.django_db
def test_a_staff_breakdown_follows_the_datasources_org_label(org_a: Any, prometheus: Any) -> None:
    from dashboards_app import builtin, services
    from metrics_app.models import Datasource

    Datasource.objects.create(name="tenanted", url=prometheus.url, org_label="tenant", is_default=True)
    doc = builtin.get("platform-overview")
    assert doc is not None
    targets = [t for p in doc["panels"] for t in p["targets"] if "$__org_label" in t["expr"] + t["legend"]]
    assert targets
    for item in services.run_targets(org_a, "timeseries", targets, {}, NOW - 600, NOW, 15):
        assert "error" not in item, item
        assert "tenant" in item["expr"] and "org_id" not in item["expr"] and "$__org_label" not in item["expr"]
        assert "$__org_label" not in item["legend"]
    assert any("{{tenant}}" in item["legend"] for item in services.run_targets(org_a, "timeseries", targets, {},
                                                                                NOW - 600, NOW, 15))
