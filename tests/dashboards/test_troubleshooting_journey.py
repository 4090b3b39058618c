"""The troubleshooting journey on the demo, in Debian's Chromium: an alert fires on the demo deployment → open
it on the alerts page → its logs, filtered to the service and the alert's window → a failing trace → the
service's page. Every step asserts the data shown (names, counts, the window), not only that a page loaded.

Real components throughout: the demo workload scraped by a real Prometheus that loads the org's rule files
(the portal's sync writes them) and sends to a real Alertmanager; the demo's logs and traces posted through
the portal's OTLP receiver with an ingest token. Screenshots go to test-output/troubleshooting-*.png.

The rule is the org's own p95 latency of api-router above 0.5 s: the demo's chat completions take seconds,
so it fires within a few evaluations of a fresh Prometheus. (An error share above 0 would also be crossed,
but on a fresh Prometheus only once a 5xx happens between two scrapes: a median of 20 s and a tail of
minutes in the workload's own simulation, too slow for a browser test.)
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from rest_framework.test import APIClient

from alerts_app.models import Rule
from dashboards_app.demo import workload
from portal.backends.otlp_sender import OtlpSender
from portal.core.management.commands.demo_telemetry import otlp_bodies
from portal.tenancy.models import Organization
from tests import procs
from tests.alerts.receivers import wait_for
from tests.dashboards.test_browser import login

pytestmark = [pytest.mark.browser, pytest.mark.backends]

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop

SERVICE = "api-router"
RULE_NAME = "api-router p95 latency"
ALERTNAME = "api_router_p95_latency"  # the rule's name as Prometheus' alert name (alerts_app.render)
REQUESTS, SEED = 40, 7  # simulated requests (one api-router log record and entry span each); the seed has failures


@pytest.fixture
def alerting_demo(demo_workload: tuple[str, int], tmp_path: Path, settings: Any,
                  live_server: Any) -> Iterator[dict[str, procs.Proc]]:
    """Prometheus scraping every demo instance at 1 s, loading the org rule files the sync writes,
    evaluating at 1 s and sending to a real Alertmanager whose config the sync writes too."""
    host, port = demo_workload
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    am = procs.start_alertmanager()
    config = (f"global: {{scrape_interval: 1s, evaluation_interval: 1s}}\nrule_files: ['{rules_dir}/*.yml']\n"
              f"alerting:\n  alertmanagers: [{{static_configs: [{{targets: ['127.0.0.1:{am.port}']}}]}}]\n"
              "scrape_configs:\n" + workload.scrape_config(host, port, interval="1s"))
    try:
        # A 1 s resend delay: the first evaluation can run before the notifier has discovered Alertmanager.
        prom = procs.start_prometheus(config, rules_dir=rules_dir, extra_args=["--rules.alert.resend-delay=1s"])
    except Exception:
        am.cleanup()
        raise
    settings.PROMETHEUS_URL, settings.PROMETHEUS_RULES_DIR = prom.url, rules_dir
    settings.ALERTMANAGER_URL, settings.ALERTMANAGER_CONFIG_FILE = am.url, am.files["config"]
    settings.ALERTS_HOOK_BASE_URL = live_server.url
    yield {"prom": prom, "am": am}
    prom.cleanup()
    am.cleanup()


@pytest.fixture
def alice_page(browser: Any, live_server: Any, alice: Any) -> Iterator[Any]:
    """Alice (admin of acme) signed in; no JavaScript error may happen on any page of the journey."""
    page = login(browser, live_server.url, alice.email)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    page.context.close()
    assert errors == [], f"JavaScript errors: {errors}"


def _service(resource: dict[str, Any]) -> str:
    return next(a["value"]["stringValue"] for a in resource["attributes"] if a["key"] == "service.name")


def post_demo_telemetry(base_url: str, token: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The demo's logs and traces of REQUESTS requests (seeded), posted to the live server's OTLP receiver;
    returns every log record and span, each with its `service`."""
    logs_body, spans_body = otlp_bodies("acme", REQUESTS, rng=random.Random(SEED))
    sender = OtlpSender(base_url)
    try:
        sender.send("/otlp/v1/logs", logs_body, token)
        sender.send("/otlp/v1/traces", spans_body, token)
    finally:
        sender.close()
    logs = [{**r, "service": _service(rl["resource"])} for rl in logs_body["resourceLogs"]
            for sl in rl["scopeLogs"] for r in sl["logRecords"]]
    spans = [{**s, "service": _service(rs["resource"])} for rs in spans_body["resourceSpans"]
             for ss in rs["scopeSpans"] for s in ss["spans"]]
    return logs, spans


def _utc(text: str) -> datetime:
    """A timestamp as the pages print it ("2026-11-30 04:10:00.123") or as an ISO string, in UTC."""
    parsed = datetime.fromisoformat(text.strip().replace(" ", "T").replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _ns(value: str) -> datetime:
    return datetime.fromtimestamp(int(value) / 1e9, tz=UTC)


def _firing(am: procs.Proc, rule: Rule) -> list[dict[str, Any]]:
    alerts: list[dict[str, Any]] = httpx.get(am.url + "/api/v2/alerts", params={
        "filter": f'portal_rule="{rule.pk}"', "active": "true", "silenced": "false"}).json()
    return alerts


def test_alert_to_logs_to_failing_trace_to_service_page(transactional_db: Any, live_server: Any,
                                                        alerting_demo: dict[str, procs.Proc], alice_page: Any,
                                                        org_a: Organization, api_alice: APIClient, ingest_a: str,
                                                        output_dir: Path) -> None:
    base = live_server.url
    logs, spans = post_demo_telemetry(base, ingest_a)
    router_logs = [r for r in logs if r["service"] == SERVICE]
    router_spans = [s for s in spans if s["service"] == SERVICE]
    failed = [s for s in router_spans if s["status"]["code"] == 2]
    assert len(router_logs) == len(router_spans) == REQUESTS and failed, "the seed must simulate failed requests"
    newest = max(_ns(r["timeUnixNano"]) for r in logs)

    # The org's own rule from a template, through the REST API; the sync writes it where Prometheus loads it.
    r = api_alice.post("/api/v1/alerts/rules/from-template/", {
        "template": "service_latency_p95", "params": {"service": SERVICE, "seconds": 0.5, "window": "1m"},
        "name": RULE_NAME, "for_duration": "0s"}, format="json")
    assert r.status_code == 201, r.content
    rule = Rule.objects.for_org(org_a).get()
    assert rule.sync_state == "synced", rule.sync_error
    am = alerting_demo["am"]
    try:
        [fired] = wait_for(lambda: _firing(am, rule), timeout=90, what="the rule's alert in Alertmanager")
    except AssertionError:  # say why: what Prometheus evaluated
        print("RULES", httpx.get(alerting_demo["prom"].url + "/api/v1/rules").text)
        raise
    assert fired["labels"]["service_name"] == SERVICE and fired["labels"]["org_id"] == "acme"
    # The links' window ends "now" to the second: let the newest record be a whole second old.
    time.sleep(max(0.0, newest.timestamp() + 1.5 - time.time()))

    page = alice_page

    # 1. The alerts page lists the firing alert: its rule's name, severity, state, a summary naming the service,
    #    and where to go from it.
    page.goto(base + "/o/acme/alerts/")
    rows = page.locator("#active-alerts tbody tr")
    assert rows.count() == 1
    row = rows.first
    cells = [c.strip() for c in row.locator("td").all_inner_texts()]
    assert cells[:3] == [ALERTNAME, "warning", "active"], cells
    assert cells[4] == f"p95 latency of {SERVICE} above 0.5s", cells
    assert page.inner_text(".sevcount[data-severity=warning] .n") == "1"
    links = {a.get_attribute("data-link"): a.get_attribute("href") for a in row.locator("a[data-link]").all()}
    assert links["rule"] == f"/o/acme/alerts/rules/{rule.pk}/"
    assert links["service"] == f"/o/acme/services/{SERVICE}/"
    logs_url = urlsplit(links["logs"] or "")
    params = {k: v[0] for k, v in parse_qs(logs_url.query).items()}
    assert logs_url.path == "/o/acme/logs/" and params["q"] == f"service={SERVICE}"
    window = _utc(params["start"]), _utc(params["end"])
    assert window[0] <= _utc(fired["startsAt"]) <= window[1]
    assert all(window[0] <= _ns(r["timeUnixNano"]) <= window[1] for r in logs), (window, newest)
    page.screenshot(path=str(output_dir / "troubleshooting-1-alert-firing.png"), full_page=True)

    # 2. Its logs: the search and the window come from the link; every record is api-router's, in the window,
    #    and all of them are there (one per simulated request), the failed requests' error records among them.
    row.locator("a[data-link=logs]").click()
    page.wait_for_url("**/o/acme/logs/?**")
    page.wait_for_function(f"document.querySelectorAll('#results tr.rec').length === {REQUESTS}")
    assert page.input_value("#q") == f"service={SERVICE}"
    assert page.input_value("#range") == "custom"
    assert (page.input_value("#from"), page.input_value("#to")) == tuple(
        t.strftime("%Y-%m-%dT%H:%M:%S") for t in window)
    assert page.inner_text("#total") == str(REQUESTS)
    assert set(page.locator("#results tr.rec td:nth-child(3)").all_inner_texts()) == {SERVICE}
    shown = [_utc(t) for t in page.locator("#results tr.rec td.t").all_inner_texts()]
    assert len(shown) == REQUESTS and all(window[0] <= t <= window[1] for t in shown)
    error_rows = page.locator("#results tr.rec.lvl-row-error")
    assert error_rows.count() == len(failed)
    page.screenshot(path=str(output_dir / "troubleshooting-2-logs-of-the-service.png"), full_page=True)

    # 3. A failing request's record leads to its trace: the waterfall has the trace's spans, the failed
    #    api-router span is marked and shows its exception.
    error_rows.first.click()
    detail = page.locator("#results tr.detail")
    detail.wait_for()
    assert "upstream connection reset by model backend" in page.inner_text("#results tr.rec.open")
    trace_link = detail.locator("a.trace-link")
    trace_id = (trace_link.get_attribute("href") or "").rstrip("/").rsplit("/", 1)[-1]
    trace_spans = [s for s in spans if s["traceId"] == trace_id]
    failed_here = [s for s in trace_spans if s["status"]["code"] == 2]
    root = next(s for s in failed_here if s["service"] == SERVICE)
    assert trace_id in detail.inner_text()
    trace_link.click()
    page.wait_for_url(f"**/o/acme/traces/{trace_id}/")
    page.wait_for_function(f"document.querySelectorAll('#waterfall .wf-row').length === {len(trace_spans)}")
    assert page.inner_text("#trace-id") == trace_id
    err_rows = page.locator("#waterfall .wf-row.err")
    assert err_rows.count() == len(failed_here)
    failed_row = err_rows.filter(has_text=root["name"])
    assert failed_row.count() == 1 and SERVICE in failed_row.inner_text()
    failed_row.click()
    span_detail = page.locator("#span-detail")
    assert span_detail.locator("h2").inner_text() == f"{SERVICE} · {root['name']}"
    assert "error: upstream error" in span_detail.inner_text()
    assert span_detail.locator("table.events strong").all_inner_texts() == ["exception"]
    trace_logs = [r for r in logs if r["traceId"] == trace_id]
    assert page.locator("#trace-logs tr").count() == len(trace_logs)
    page.screenshot(path=str(output_dir / "troubleshooting-3-failing-trace.png"), full_page=True)

    # 4. The service's page, from the span: its name, its requests and error share (the simulated ones), its
    #    failed traces (this one among them) and the alert that is firing for it.
    span_detail.locator("a.service-link").click()
    page.wait_for_url(f"**/o/acme/services/{SERVICE}/?start=**")
    assert page.inner_text("#service-name") == SERVICE
    page.wait_for_function("document.getElementById('headline').dataset.start !== undefined")
    kpis = dict(zip(page.locator("#headline .kpi .k").all_inner_texts(),
                    page.locator("#headline .kpi .v").all_inner_texts(), strict=True))
    assert kpis["requests"] == str(REQUESTS), kpis
    assert kpis["error share"] == f"{len(failed) / REQUESTS * 100:.1f}%", kpis
    failed_traces = page.locator("#failed tr.tr-failed")
    assert failed_traces.count() == min(10, len(failed))
    if len(failed) <= 10:
        hrefs = [a.get_attribute("href") for a in failed_traces.locator("a").all()]
        assert f"/o/acme/traces/{trace_id}/" in hrefs
    assert page.locator("#error-logs tr.log").count() == min(20, len(failed))
    alert_rows = page.locator("#alerts tbody tr")
    assert alert_rows.count() == 1 and alert_rows.first.locator("td").first.inner_text() == ALERTNAME
    page.screenshot(path=str(output_dir / "troubleshooting-4-service-page.png"), full_page=True)
