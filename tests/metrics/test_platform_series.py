"""Platform series: the shipped rule file, definition-time checks, the enforcer's `org_id=""` for
allowed names (examples, attacks, Hypothesis properties), the staff API, the rule sync, and the whole
path against a real Prometheus holding two orgs' samples."""

from __future__ import annotations

import math
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import promql_parser as pp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from metrics_app import federation, platform_series, promql
from metrics_app.models import PlatformSeries
from metrics_app.platform_check import PlatformSeriesRefused, check_expression, check_name
from metrics_app.promql import ForeignOrgMatcher, enforce, enforce_matchers, enforce_selector
from portal.backends.prometheus import managed_prometheus
from portal.errors import ServiceError
from portal.tenancy.models import AuditEntry, Organization
from tests import procs
from tests.metrics import remote_write
from tests.metrics.test_promql import durations, label_names, values

LABEL, ORG = "org_id", "acme"
PLATFORM = frozenset(platform_series.DEFAULT_PLATFORM_SERIES)
UP = "platform:service_up:ratio"
RATE = "platform:service_request_rate:rate5m"
URL = "/api/v1/platform-series/"


def _org_matchers(vs: pp.VectorSelector) -> list[tuple[str, str]]:
    return [(promql._op(m), m.value) for m in vs.matchers.matchers if m.name == LABEL]


def _names(vs: pp.VectorSelector) -> set[str]:
    out = {vs.name} if vs.name else set()
    return out | {m.value for m in vs.matchers.matchers if m.name == "__name__" and promql._op(m) == "="}


def assert_confined(original: str, rewritten: str) -> None:
    """Every selector of the output has exactly one org-label matcher: `org_id=""` when it pins an
    allowed platform series by name, else the org's own."""
    before, after = promql.selectors(original), promql.selectors(rewritten)
    assert len(after) == len(before), (original, rewritten)
    for vs in after:
        want = "" if _names(vs) & PLATFORM else ORG
        assert _org_matchers(vs) == [("=", want)], rewritten


# ---------------------------------------------------------------- the shipped defaults


def test_default_rules_file_passes_promtool() -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "platform.yml"
        path.write_text(platform_series.rules_yaml())
        proc = subprocess.run([settings_promtool(), "check", "rules", str(path)],  # noqa: S603
                              capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert f"{len(platform_series.DEFAULT_PLATFORM_SERIES)} rules found" in proc.stdout


def settings_promtool() -> str:
    from django.conf import settings as django_settings

    return str(django_settings.PROMTOOL)


def test_defaults_are_the_contract_names_and_pass_the_definition_check() -> None:
    assert set(platform_series.DEFAULT_PLATFORM_SERIES) == {
        "platform:service_up:ratio", "platform:service_cpu_saturation:ratio",
        "platform:service_memory_saturation:ratio", "platform:service_disk_saturation:ratio",
        "platform:service_error_share:ratio_rate5m", "platform:service_latency_p95:seconds_rate5m",
        "platform:service_request_rate:rate5m", "platform:gen_ai_model_error_share:ratio_rate5m",
        "platform:gen_ai_model_ttft_p95:seconds_rate5m", "platform:analytics_queue_depth:sum",
        "platform:analytics_rollup_lag:max_seconds"}
    for name, expr in platform_series.DEFAULT_PLATFORM_SERIES.items():
        check_name(name)
        check_expression(expr, LABEL, name)
    # Another org label: the instance series are read with that label empty.
    assert 'tenant=""' in platform_series.default_series("tenant")[UP]


# ---------------------------------------------------------------- definition-time check

REFUSED = [
    "rate(http_server_request_duration_seconds_count[5m])",  # no aggregation
    "up",
    "sum by (org_id) (rate(x[5m]))",
    "sum by (service_name, org_id) (x)",
    "sum without (instance) (x)",  # without, but not the org label
    "sum without (org_id) (x)",  # the org label, but api_key stays
    'sum by (dst) (label_replace(x, "dst", "$1", "org_id", "(.*)"))',  # a copy of the org label
    'sum by (dst) (label_join(x, "dst", ",", "job", "org_id"))',
    'label_replace(sum(x), "org_id", "acme", "", "")',  # puts an org label back
    "topk(1, sum by (org_id) (x))",  # topk returns its input series
    "sum(x) * on () group_left (org_id) x",  # copies the org label from the one side
    "x * on () group_left () sum(x)",
    'count_values("org_id", sum by (job) (x))',
    "sum by (api_key) (gen_ai_client_token_usage_sum)",  # a per-org label
    'sum(x{org_id="acme"})',  # one org's numbers, aggregated or not
    'sum(x{org_id=~"acme|globex"})',
    'scalar(sum(x{org_id="acme"}))',
    'sum(x{api_key="acme-prod"})',
    'absent(x{org_id="acme"})',
    "max_over_time(x[10m:1m])",
    "sum(x) or x",
    "x > bool 1",
    "sum(",  # does not parse
]


@pytest.mark.parametrize("expr", REFUSED)
def test_definition_check_refuses_a_kept_org_label(expr: str) -> None:
    with pytest.raises(promql.PromQLError) as e:
        check_expression(expr, LABEL, "platform:leak:ratio")
    assert e.value.message


ACCEPTED = [
    "sum(x)",
    "sum without (org_id, api_key) (x)",
    "sum by (service_name) (x) / on (service_name) sum by (service_name, job) (y)",
    "sum(x) * on () group_left (job) sum by (job) (y)",
    'sum by (dst) (label_replace(sum by (job) (x), "dst", "$1", "job", "(.*)"))',
    'max by (service_name, instance) (up{org_id=""})',
    "histogram_quantile(0.9, sum by (le) (rate(h_bucket[5m])))",
    "vector(1)",
]


@pytest.mark.parametrize("expr", ACCEPTED)
def test_definition_check_accepts_aggregations(expr: str) -> None:
    check_expression(expr, LABEL, "platform:fine:ratio")


def test_definition_check_names_the_label() -> None:
    with pytest.raises(PlatformSeriesRefused) as e:
        check_expression("sum by (org_id) (x)", LABEL)
    assert "'org_id'" in e.value.message
    with pytest.raises(PlatformSeriesRefused) as e:
        check_expression("sum by (tenant) (x)", "tenant")
    assert "'tenant'" in e.value.message


@pytest.mark.parametrize("name", ["up", "platform_up", "platform:up", ":a:b", "a:b:", "a:b:c d", "a::b"])
def test_names_must_be_recording_rule_names(name: str) -> None:
    with pytest.raises(PlatformSeriesRefused) as e:
        check_name(name)
    assert e.value.field == "name"


def test_expression_may_not_read_its_own_name() -> None:
    with pytest.raises(PlatformSeriesRefused):
        check_expression("sum(platform:self:ratio)", LABEL, "platform:self:ratio")


# ---------------------------------------------------------------- the enforcer

@pytest.mark.parametrize(("query", "expected"), [
    (UP, 'platform:service_up:ratio{org_id=""}'),
    (f'{{__name__="{UP}"}}', '{__name__="platform:service_up:ratio",org_id=""}'),
    (f'{UP}{{org_id=""}}', 'platform:service_up:ratio{org_id=""}'),
    (f"{UP} offset 5m", 'platform:service_up:ratio{org_id=""} offset 5m'),
    (f"max_over_time({UP}[1h:1m] @ end())", 'max_over_time(platform:service_up:ratio{org_id=""}[1h:1m] @ end())'),
    (f"sum by (service_name) (rate(x[5m])) / on (service_name) {RATE}",
     'sum by (service_name) (rate(x{org_id="acme"}[5m])) / on (service_name) '
     'platform:service_request_rate:rate5m{org_id=""}'),
    # A regex on the name never names a platform series: the org matcher, so only the org's series.
    ('{__name__=~"platform:.*|secret"}', '{__name__=~"platform:.*|secret",org_id="acme"}'),
    (f'{{__name__=~"{UP}"}}', '{__name__=~"platform:service_up:ratio",org_id="acme"}'),
    # A name that is not allowed (another recording rule, a raw metric) is an org selector.
    ("platform:not_allowed:ratio", 'platform:not_allowed:ratio{org_id="acme"}'),
    # Both equalities must hold, so every series it selects is the platform series.
    (f'{{__name__="{UP}",__name__=~"secret|{UP}"}}',
     '{__name__="platform:service_up:ratio",__name__=~"secret|platform:service_up:ratio",org_id=""}'),
    (f'label_replace({UP}, "org_id", "acme", "", "")',
     'label_replace(platform:service_up:ratio{org_id=""}, "org_id", "acme", "", "")'),
])
def test_enforcer_gives_platform_selectors_the_empty_org_label(query: str, expected: str) -> None:
    out = enforce(query, LABEL, ORG, PLATFORM)
    assert out == expected
    assert_confined(query, out)
    assert enforce(out, LABEL, ORG, PLATFORM) == out  # a fixed point


@pytest.mark.parametrize("query", [
    f'{UP}{{org_id="acme"}}', f'{UP}{{org_id="globex"}}', f'{UP}{{org_id=~".*"}}', f'{UP}{{org_id!=""}}',
    f'sum(x) + {UP}{{org_id=~"acme"}}',
])
def test_org_matchers_on_a_platform_selector_are_refused(query: str) -> None:
    with pytest.raises(ForeignOrgMatcher) as e:
        enforce(query, LABEL, ORG, PLATFORM)
    assert "platform series" in e.value.message


def test_without_the_allow_list_nothing_changes() -> None:
    assert enforce(UP, LABEL, ORG) == 'platform:service_up:ratio{org_id="acme"}'
    calls: list[int] = []

    def names() -> frozenset[str]:
        calls.append(1)
        return PLATFORM

    # The allow-list is asked only for a query naming a recording rule, and once per query.
    enforce("sum(rate(x[5m])) / sum(up)", LABEL, ORG, names)
    assert calls == []
    enforce(f"{UP} + {RATE} + platform:other:x", LABEL, ORG, names)
    assert calls == [1]


def test_match_selectors() -> None:
    assert enforce_matchers([UP, "up"], LABEL, ORG, PLATFORM) == [
        'platform:service_up:ratio{org_id=""}', 'up{org_id="acme"}']
    assert enforce_selector(f'{{__name__="{RATE}"}}', LABEL, ORG, PLATFORM) == \
        '{__name__="platform:service_request_rate:rate5m",org_id=""}'
    assert enforce_selector('{__name__=~"platform:.+"}', LABEL, ORG, PLATFORM) == \
        '{__name__=~"platform:.+",org_id="acme"}'


# Hypothesis: random mixes of org selectors and platform selectors (by name, by __name__ equality, with
# name regexes and org matchers thrown in) stay confined.
org_names = st.sampled_from(["up", "x", "http_requests_total", "a:b:rate5m", "platform:not_allowed:ratio"])
any_names = st.one_of(org_names, st.sampled_from(sorted(PLATFORM)))


@st.composite
def mixed_selector(draw: st.DrawFn) -> str:
    ms: list[str] = []
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.integers(0, 5))
        if kind == 0:
            ms.append(draw(st.sampled_from(['__name__=~"platform:.*"', '__name__=~"platform:.*|secret"',
                                            '__name__!="x"', '__name__=~".+"'])))
        else:
            name = draw(label_names)
            op = draw(st.sampled_from(["=", "!=", "=~", "!~"]))
            value = draw(values) if op in ("=", "!=") else draw(st.sampled_from([".*", "a|b", "x.+"]))
            ms.append(f"{name}{op}{promql._quote(value)}")
    name = draw(any_names)
    if draw(st.booleans()):
        text = f"{name}{{{','.join(m for m in ms if not m.startswith('__name__'))}}}"
    else:
        text = f"{{{','.join([f'__name__={promql._quote(name)}', *ms])}}}"
    if draw(st.booleans()):
        text += f" offset {draw(durations)}"
    if draw(st.integers(0, 4)) == 0:
        text += draw(st.sampled_from([" @ start()", " @ end()", " @ 1700000000"]))
    return text


def _matrix(sel: str, dur: str) -> str:
    head, _, tail = sel.rpartition("}")
    return f"{head}}}[{dur}]{tail}"


def mixed_expr() -> st.SearchStrategy[str]:
    leaf = mixed_selector()

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.builds(lambda s, d: f"rate({_matrix(s, d)})", leaf, durations),
            st.builds(lambda e, d: f"max_over_time(({e})[{d}:1m])", inner, durations),
            st.builds(lambda e, g: f"sum by ({g}) ({e})", inner, label_names),
            st.builds(lambda a, b, op: f"({a}) {op} ({b})", inner, inner,
                      st.sampled_from(["+", "/", "and", "or", "unless", "> bool", "/ on (job) group_left (instance)"])),
            st.builds(lambda e: f'label_replace({e}, "org_id", "globex", "", "")', inner),
            st.builds(lambda e: f"absent({e})", inner),
        )

    return st.recursive(leaf, extend, max_leaves=6)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mixed_expr())
def test_property_org_selectors_confined_platform_selectors_get_empty_org_label(query: str) -> None:
    out = enforce(query, LABEL, ORG, PLATFORM)
    assert_confined(query, out)
    assert enforce(out, LABEL, ORG, PLATFORM) == out


@settings(max_examples=150, deadline=None)
@given(mixed_expr(), st.sampled_from(['org_id="globex"', 'org_id!="acme"', 'org_id=~".*"', 'org_id=""']))
def test_property_a_foreign_matcher_on_an_org_selector_is_still_refused(inner: str, bad: str) -> None:
    with pytest.raises(ForeignOrgMatcher):
        enforce(f"({inner}) or up{{{bad}}}", LABEL, ORG, PLATFORM)


# ---------------------------------------------------------------- model, API, cache, rule sync

VALID = {"name": "platform:service_inflight:sum", "expr": "sum by (service_name) (inflight_requests)",
         "description": "In-flight requests of all orgs"}


@pytest.fixture
def staff_api(operator: Any) -> APIClient:
    client = APIClient()
    client.force_login(operator)
    return client


@pytest.fixture
def rules_dir(tmp_path: Path, settings: Any) -> Path:
    settings.PROMETHEUS_RULES_DIR = tmp_path / "rules"
    settings.ALERTMANAGER_CONFIG_FILE = tmp_path / "am" / "alertmanager.yml"
    settings.PROMETHEUS_URL = ""
    settings.ALERTMANAGER_URL = ""
    (tmp_path / "rules").mkdir()
    return tmp_path / "rules"


@pytest.mark.django_db
def test_defaults_are_seeded_by_the_migration() -> None:
    rows = dict(PlatformSeries.objects.values_list("name", "expr"))
    assert rows == platform_series.DEFAULT_PLATFORM_SERIES
    assert platform_series.allowed_names() == PLATFORM
    assert all(PlatformSeries.objects.values_list("description", flat=True))


@pytest.mark.django_db
def test_staff_create_update_delete_is_audited_and_invalidates_the_allow_list(
        staff_api: APIClient, rules_dir: Path, django_capture_on_commit_callbacks: Any) -> None:
    assert VALID["name"] not in platform_series.allowed_names()  # cached now
    with django_capture_on_commit_callbacks(execute=True):
        resp = staff_api.post(URL, VALID, format="json")
    assert resp.status_code == 201, resp.content
    assert VALID["name"] in platform_series.allowed_names()
    # The commit ran the rule sync: the file holds the new rule, beside (not named like) org files.
    written = (rules_dir / "portal-platform-series.yml").read_text()
    assert VALID["name"] in written and UP in written
    pk = resp.json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        resp = staff_api.patch(f"{URL}{pk}/", {"enabled": False}, format="json")
    assert resp.status_code == 200 and resp.json()["enabled"] is False
    assert VALID["name"] not in platform_series.allowed_names()
    assert VALID["name"] not in (rules_dir / "portal-platform-series.yml").read_text()
    with django_capture_on_commit_callbacks(execute=True):
        assert staff_api.delete(f"{URL}{pk}/").status_code == 204
    actions = list(AuditEntry.objects.all_orgs().filter(object_type="platformseries").values_list("action", flat=True))
    assert sorted(actions) == ["create", "delete", "update"]


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "field", "needle"), [
    ({"expr": "rate(inflight_requests[5m])"}, "expr", "'org_id'"),
    ({"expr": "sum by (service_name, org_id) (inflight_requests)"}, "expr", "'org_id'"),
    ({"expr": "sum without (instance) (inflight_requests)"}, "expr", "'org_id'"),
    ({"expr": 'sum by (o) (label_replace(x, "o", "$1", "org_id", "(.*)"))'}, "expr", "org_id"),
    ({"expr": 'sum(inflight_requests{org_id="acme"})'}, "expr", "'org_id'"),
    ({"expr": "sum(inflight_requests"}, "expr", "parse"),
    ({"name": "inflight_requests"}, "name", "level:metric:operations"),
    ({"name": "platform:service_up"}, "name", "level:metric:operations"),
])
def test_definitions_that_keep_the_org_label_are_refused(staff_api: APIClient, body: dict[str, str], field: str,
                                                          needle: str) -> None:
    resp = staff_api.post(URL, {**VALID, **body}, format="json")
    assert resp.status_code == 400, resp.content
    err = resp.json()["error"]
    assert err["code"] == "invalid"
    assert needle in err["message"] and field in str(err)
    assert not PlatformSeries.objects.filter(name=body.get("name", VALID["name"])).exists()


@pytest.mark.django_db
def test_duplicate_name_is_a_clear_400(staff_api: APIClient) -> None:
    resp = staff_api.post(URL, {**VALID, "name": UP}, format="json")
    assert resp.status_code == 400 and resp.json()["error"]["code"] in ("invalid", "exists")


@pytest.mark.django_db
def test_org_members_read_the_enabled_list_but_cannot_write(
        api_alice: APIClient, api_charlie: APIClient, staff_api: APIClient, org_a: Organization) -> None:
    hidden = PlatformSeries.objects.create(name="platform:hidden:ratio", expr="sum(x)", enabled=False)
    for client in (api_alice, api_charlie):  # admins of two different orgs
        resp = client.get(URL)
        assert resp.status_code == 200
        names = {row["name"] for row in resp.json()["results"]} if isinstance(resp.json(), dict) else \
            {row["name"] for row in resp.json()}
        assert names == set(PLATFORM)
        assert client.get(f"{URL}{hidden.pk}/").status_code == 404
        assert client.post(URL, VALID, format="json").status_code == 403
        up = PlatformSeries.objects.get(name=UP)
        assert client.patch(f"{URL}{up.pk}/", {"expr": "sum by (org_id) (up)"}, format="json").status_code == 403
        assert client.delete(f"{URL}{up.pk}/").status_code == 403
    assert PlatformSeries.objects.get(name=UP).expr == platform_series.DEFAULT_PLATFORM_SERIES[UP]
    assert APIClient().get(URL).status_code in (401, 403)
    assert staff_api.get(f"{URL}{hidden.pk}/").status_code == 200


@pytest.mark.django_db
def test_staff_page_lists_the_series_and_is_staff_only(operator: Any, web_alice: Any) -> None:
    from django.test import Client

    staff = Client()
    staff.force_login(operator)
    resp = staff.get("/platform/platform-series/")
    assert resp.status_code == 200
    assert UP in resp.content.decode() and "portal-platform-series.yml" in resp.content.decode()
    assert web_alice.get("/platform/platform-series/").status_code == 403


@pytest.mark.django_db
def test_allow_list_is_read_through_the_cache() -> None:
    first = platform_series.allowed_names()
    # A row written behind the service's back is not seen until the cache entry is dropped.
    PlatformSeries.objects.create(name="platform:sneaky:ratio", expr="sum(x)")
    assert platform_series.allowed_names() == first
    platform_series.invalidate()
    assert "platform:sneaky:ratio" in platform_series.allowed_names()


@pytest.mark.django_db
def test_reconcile_writes_the_platform_file_and_leaves_it_alone(rules_dir: Path) -> None:
    from alerts_app.sync import reconcile

    report = reconcile()
    path = rules_dir / "portal-platform-series.yml"
    assert path.read_text() == platform_series.rules_yaml(platform_series.DEFAULT_PLATFORM_SERIES)
    assert report.files_written >= 1
    assert reconcile().files_written == 0 and path.exists()  # unchanged: nothing written, not an orphan


# ---------------------------------------------------------------- a real Prometheus, two orgs

REQS = "http_server_request_duration_seconds_count"


def _two_org_samples(now_ms: int) -> list[remote_write.Series]:
    """Ten minutes of samples: acme 1 req/s, globex 3 req/s + 1 error/s on api-router; the shared
    deployment's `up` (no org label: one instance up, one down); decoys carrying an org label."""
    stamps = [now_ms - (40 - i) * 15_000 for i in range(41)]

    def counter(labels: dict[str, str], per_s: float) -> remote_write.Series:
        return labels, [(t, i * 15 * per_s) for i, t in enumerate(stamps)]

    def gauge(labels: dict[str, str], value: float) -> remote_write.Series:
        return labels, [(t, value) for t in stamps]

    req = {"__name__": REQS, "service_name": "api-router", "http_route": "/v1/chat", "http_request_method": "POST"}
    return [
        counter({**req, "http_response_status_code": "200", "org_id": "acme"}, 1.0),
        counter({**req, "http_response_status_code": "200", "org_id": "globex"}, 3.0),
        counter({**req, "http_response_status_code": "500", "org_id": "globex"}, 1.0),
        gauge({"__name__": "up", "job": "api-router", "service_name": "api-router", "instance": "r-1:8080"}, 1.0),
        gauge({"__name__": "up", "job": "api-router", "service_name": "api-router", "instance": "r-2:8080"}, 0.0),
        # An org's own target (org label): never part of, nor a label value of, a platform series.
        gauge({"__name__": "up", "job": "own", "service_name": "globex-secret-svc", "org_id": "globex"}, 1.0),
        # An org writing a series named like a platform series: it carries its org label, so org_id=""
        # keeps it out of every org's platform selector.
        gauge({"__name__": UP, "service_name": "evil", "org_id": "globex"}, 7.0),
        # Unlabelled and not a platform series: invisible to orgs.
        gauge({"__name__": "secret_platform_internal", "job": "infra"}, 42.0),
    ]


@pytest.fixture
def prom_two_orgs(tmp_path: Path, settings: Any) -> Iterator[procs.Proc]:
    p = procs.start_prometheus()
    settings.PROMETHEUS_URL = p.url
    settings.PROMETHEUS_RULES_DIR = p.files["rules_dir"]
    settings.ALERTMANAGER_URL = ""
    settings.ALERTMANAGER_CONFIG_FILE = tmp_path / "am" / "alertmanager.yml"
    remote_write.push(p.url + "/api/v1/write", _two_org_samples(int(time.time() * 1000)))
    yield p
    p.cleanup()


def _wait_for_rule_data(name: str) -> None:
    """Until Prometheus has evaluated the recording rule at least once (raw backend read, as staff)."""
    prom = managed_prometheus()
    for _ in range(120):
        data = prom.query(name, f"{time.time():.3f}")
        if data.get("result"):
            return
        time.sleep(0.5)
    raise AssertionError(f"Prometheus never evaluated {name}")


def _as(org: Organization, q: str) -> list[dict[str, Any]]:
    data = federation.query(org, q, time=f"{time.time():.3f}", use_cache=False)
    return list(data["result"])


@pytest.mark.django_db
@pytest.mark.backends
def test_real_prometheus_org_combines_its_series_with_platform_series(
        prom_two_orgs: procs.Proc, org_a: Organization, org_b: Organization, staff_api: APIClient,
        django_capture_on_commit_callbacks: Any) -> None:
    from alerts_app.sync import reconcile

    reconcile()  # the portal's rule sync writes the platform series file and reloads Prometheus
    loaded = {r["name"] for g in managed_prometheus().rule_groups() for r in g["rules"]}
    assert PLATFORM <= loaded
    _wait_for_rule_data(RATE)
    _wait_for_rule_data(UP)

    # acme's share of all api-router traffic: its own series over the platform series (1 of 5 req/s).
    share = _as(org_a, f"sum by (service_name) (rate({REQS}[5m])) / on (service_name) {RATE}")
    assert [r["metric"] for r in share] == [{"service_name": "api-router"}]
    assert math.isclose(float(share[0]["value"][1]), 0.2, rel_tol=0.1)

    # Nothing org-specific through a platform series: one aggregate, no org label, no org's label value.
    for org in (org_a, org_b):
        up = _as(org, UP)
        assert [(r["metric"], r["value"][1]) for r in up] == [
            ({"__name__": UP, "service_name": "api-router"}, "0.5")]
        rate = _as(org, RATE)
        assert len(rate) == 1 and "org_id" not in rate[0]["metric"]
        assert math.isclose(float(rate[0]["value"][1]), 5.0, rel_tol=0.1)
        errors = _as(org, "platform:service_error_share:ratio_rate5m")
        assert [r["metric"].get("service_name") for r in errors] == ["api-router"]
        assert math.isclose(float(errors[0]["value"][1]), 0.2, rel_tol=0.1)

    # Name regexes are no way around the org matcher, and unlabelled non-platform series stay invisible.
    assert _as(org_a, "secret_platform_internal") == []
    assert _as(org_a, '{__name__=~"platform:.+|secret_platform_internal"}') == []
    assert _as(org_a, f'label_replace({{__name__=~"{UP}"}}, "x", "y", "", "")') == []
    with pytest.raises(ServiceError) as e:
        _as(org_a, f'{UP}{{org_id="globex"}}')
    assert e.value.code == "foreign_org_matcher"
    # acme's own series stay acme's: globex's counters are not in acme's sum.
    own = _as(org_a, f"sum(rate({REQS}[5m]))")
    assert math.isclose(float(own[0]["value"][1]), 1.0, rel_tol=0.1)

    # A definition that keeps org_id is refused through the API and never reaches Prometheus.
    leak = {"name": "platform:leak:rate5m", "expr": f"sum by (org_id) (rate({REQS}[5m]))"}
    with django_capture_on_commit_callbacks(execute=True):
        resp = staff_api.post(URL, leak, format="json")
    assert resp.status_code == 400 and "'org_id'" in resp.json()["error"]["message"]
    # A good one is synced on commit and every org can read it at once.
    good = {"name": "platform:service_requests:rate1m", "expr": f"sum by (service_name) (rate({REQS}[1m]))"}
    with django_capture_on_commit_callbacks(execute=True):
        assert staff_api.post(URL, good, format="json").status_code == 201
    loaded = {r["name"] for g in managed_prometheus().rule_groups() for r in g["rules"]}
    assert good["name"] in loaded and leak["name"] not in loaded
    _wait_for_rule_data(good["name"])
    got = _as(org_b, good["name"])
    assert [r["metric"] for r in got] == [{"__name__": good["name"], "service_name": "api-router"}]
    assert _as(org_a, leak["name"]) == []
