"""Alert rule templates cannot read data: an org's labels and annotations pass an allow-list of Go
template actions (alerts_app/templating.py) on every path into the database, and again at render time.

End to end: real Prometheus scraping a series of org B with a distinctive value and a real Alertmanager;
org A's attempts to read it through a template are refused, and org A's allowed templates fire with
nothing of org B in the alert text."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from rest_framework.test import APIClient

from alerts_app import render, sync
from alerts_app.catalog import TEMPLATES
from alerts_app.models import Rule
from alerts_app.templating import check_template
from portal.tenancy.models import Organization
from tests import procs
from tests.alerts.receivers import wait_for

SECRET_VALUE = "987654321"  # org B's series value: must never show up in anything of org A
SECRET_SPELLINGS = (SECRET_VALUE, "9.87654321")  # as printf "%.0f" and as Prometheus prints a float
# With the allow-list switched off, this summary fires as "987654321" in org A (checked by hand).
LEAK = '{{ with query "globex_revenue_total" }}{{ . | first | value | printf "%.0f" }}{{ end }}'
RULE = {"name": "Queue deep", "kind": "threshold", "query": "acme_queue_depth", "comparator": ">",
        "threshold": 1, "for_duration": "0s"}

# Every Go-template spelling that reaches data or control flow beyond formatting.
REFUSED = [
    pytest.param('{{ query "up" }}', id="call"),
    pytest.param(LEAK, id="with"),
    pytest.param('{{ range query "up" }}{{ .Value }}{{ end }}', id="range"),
    pytest.param('{{ define "x" }}{{ query "up" }}{{ end }}{{ template "x" }}', id="define-template"),
    pytest.param('{{ block "x" . }}{{ end }}', id="block"),
    pytest.param('{{ template "__alert_Queue" . }}', id="template"),
    pytest.param('{{ "up" | query | first | value }}', id="pipeline"),
    pytest.param('{{- query "up" -}}', id="trim-markers"),
    pytest.param('{{-\nquery "up"\n-}}', id="trim-markers-newline"),
    pytest.param('{{ (query "up") }}', id="parentheses"),
    pytest.param('{{ humanize (index (query "up") 0).Value }}', id="nested-parentheses"),
    pytest.param('{{ $x := query "up" }}{{ $x }}', id="declaration"),
    pytest.param('{{ $value = 1 }}', id="assignment"),
    pytest.param('{{ "}}" | query }}', id="delimiter-inside-string"),
    pytest.param('{{ `}}` | query }}', id="delimiter-inside-raw-string"),
    pytest.param('{{/* c */}}{{ query "up" }}', id="after-comment"),
    pytest.param('{{ query`up` }}', id="raw-string-argument"),
    pytest.param('{{ if true }}{{ query "up" }}{{ end }}', id="inside-if"),
    pytest.param('{{ if query "up" }}x{{ end }}', id="in-condition"),
    pytest.param('{{ sortByLabel "job" (query "up") }}', id="sortByLabel"),
    pytest.param('{{ label "job" (first (query "up")) }}', id="label"),
    pytest.param('{{ tmpl "x" . }}', id="tmpl"),
    pytest.param('{{ externalURL }}', id="externalURL"),
    pytest.param('{{ .ExternalURL }}', id="dot-field"),
    pytest.param('{{ . }}', id="dot"),
    pytest.param('{{ $ }}', id="root-variable"),
    pytest.param('{{ $externalURL }}', id="other-variable"),
    pytest.param('{{ printf "%99999999d" 1 }}', id="printf-width"),
    pytest.param('{{ query "up"', id="unclosed"),
]
# The import path shares the validation above; a few spellings show it (each import also runs promtool).
IMPORT_SPELLINGS = {"with", "pipeline", "trim-markers", "parentheses", "declaration", "delimiter-inside-string",
                    "define-template", "unclosed"}
ALLOWED = [
    "plain text", "{{ $value }}", "{{$value | humanize}}", "{{ $labels.job }}", "{{$labels.instance}}",
    "{{ $labels }}", '{{ index $labels "job" }}', "{{ $externalLabels.cluster }}",
    '{{ printf "%.0f" $value }}', "{{ $value | humanizePercentage }}", "{{ humanizeDuration $value }}",
    "{{ $value | humanize1024 }}", "{{ humanizeTimestamp $value }}", "{{ $labels.job | title | toUpper }}",
    '{{ reReplaceAll "-.*" "" $labels.instance | toLower }}', "{{- $labels.job -}} and {{/* note */}}",
    '{{ if gt $value 10.0 }}high{{ else if match "^a" $labels.job }}a{{ else }}low{{ end }}',
]



def import_file(annotations: dict[str, str], labels: dict[str, str] | None = None) -> str:
    rule = {"alert": "Imported", "expr": "up == 0", "labels": labels or {}, "annotations": annotations}
    return yaml.safe_dump({"groups": [{"name": "g", "rules": [rule]}]})


# --- (b) every spelling is refused, naming the field ---------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("template", REFUSED)
def test_refused_in_an_annotation(api_alice: APIClient, org_a: Organization, alert_files: Path,
                                  template: str) -> None:
    r = api_alice.post("/api/v1/alerts/rules/", {**RULE, "annotations": {"summary": template}}, format="json")
    assert r.status_code == 400, r.content
    err = r.json()["error"]
    assert err["details"]["field"] == "annotations" and err["details"]["key"] == "summary", err
    assert list(err["details"]["errors"]["annotations"]) == ["summary"]
    assert err["message"].startswith("annotations.summary: ")
    assert isinstance(err["details"]["position"], int)
    assert not Rule.objects.for_org(org_a).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("template", REFUSED)
def test_refused_in_a_label_value(api_alice: APIClient, org_a: Organization, alert_files: Path,
                                  template: str) -> None:
    r = api_alice.post("/api/v1/alerts/rules/", {**RULE, "labels": {"team": template}}, format="json")
    assert r.status_code == 400, r.content
    details = r.json()["error"]["details"]
    assert details["field"] == "labels" and list(details["errors"]["labels"]) == ["team"], details


@pytest.mark.django_db
@pytest.mark.parametrize("template", [p for p in REFUSED if p.id in IMPORT_SPELLINGS])
def test_refused_in_an_imported_rule_file(api_alice: APIClient, org_a: Organization, alert_files: Path,
                                          template: str) -> None:
    r = api_alice.post("/api/v1/alerts/rules/import/", {"file": import_file({"summary": template})},
                       format="json")
    assert r.status_code == 400, r.content
    details = r.json()["error"]["details"]
    # promtool rejects what Go itself cannot parse before the allow-list is asked.
    assert details["field"] == ("file" if template.endswith('"up"') else "groups[0].rules[0].annotations"), details
    assert not Rule.objects.for_org(org_a).exists()


@pytest.mark.django_db
def test_refused_when_editing(api_alice: APIClient, org_a: Organization, alert_files: Path) -> None:
    rid = api_alice.post("/api/v1/alerts/rules/", RULE, format="json").json()["id"]
    r = api_alice.patch(f"/api/v1/alerts/rules/{rid}/", {"annotations": {"description": LEAK}}, format="json")
    assert r.status_code == 400
    assert list(r.json()["error"]["details"]["errors"]["annotations"]) == ["description"]
    assert Rule.objects.for_org(org_a).get(pk=rid).annotations == {}


@pytest.mark.django_db
def test_refused_through_a_catalog_template(api_alice: APIClient, org_a: Organization, alert_files: Path) -> None:
    # The log template copies its search into the summary: the same validation applies.
    r = api_alice.post("/api/v1/alerts/rules/from-template/",
                       {"template": "log_auth_failures", "params": {"search": '{{ query "up" }}'}}, format="json")
    assert r.status_code == 400, r.content
    assert r.json()["error"]["details"]["field"] == "annotations"
    assert not Rule.objects.for_org(org_a).exists()


# --- (c) allowed templates pass, and the shipped catalog still builds ----------------------------

@pytest.mark.parametrize("template", ALLOWED)
def test_allowed_template_passes_the_check(template: str) -> None:
    check_template(template)


@pytest.mark.django_db
def test_allowed_templates_are_saved_and_promtool_accepts_them(api_alice: APIClient, org_a: Organization,
                                                               alert_files: Path) -> None:
    annotations = {f"a{i}": t for i, t in enumerate(ALLOWED)}
    r = api_alice.post("/api/v1/alerts/rules/", {**RULE, "annotations": annotations,
                                                 "labels": {"team": "{{ $labels.job | toUpper }}"}}, format="json")
    assert r.status_code == 201, r.content
    r = api_alice.post("/api/v1/alerts/rules/import/", {"file": import_file(annotations)}, format="json")
    assert r.status_code == 201, r.content


@pytest.mark.django_db
@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_every_catalog_template_still_builds(api_alice: APIClient, org_a: Organization, alert_files: Path,
                                             key: str) -> None:
    r = api_alice.post("/api/v1/alerts/rules/from-template/", {"template": key}, format="json")
    assert r.status_code == 201, r.content


@pytest.mark.django_db
def test_a_row_stored_past_the_api_is_not_rendered(org_a: Organization, alert_files: Path) -> None:
    bad = Rule.objects.create(org=org_a, name="stored", kind="promql", expr="vector(1)",
                              annotations={"summary": LEAK})
    good = Rule.objects.create(org=org_a, name="fine", kind="promql", expr="vector(1)",
                               annotations={"summary": "{{ $value }}"})
    text, failed = render.render_rules_file(org_a, [bad, good], [], {})
    assert set(failed) == {bad.pk} and "'with' is not allowed" in failed[bad.pk]
    assert "query" not in text and "{{ $value }}" in text


# --- (a) end to end on real Prometheus + Alertmanager ---------------------------------------------

class Exporter:
    """Two scrape targets on one port: org A's queue depth and org B's revenue (the value to protect)."""

    def __init__(self) -> None:
        bodies = {"/acme": b"acme_queue_depth 7\n", "/globex": f"globex_revenue_total {SECRET_VALUE}\n".encode()}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                body = bodies.get(self.path, b"")
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stack(tmp_path: Path, settings: Any) -> Iterator[dict[str, Any]]:
    exporter = Exporter()
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    am = procs.start_alertmanager()
    target = f"127.0.0.1:{exporter.port}"
    config = f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: ['{rules_dir}/*.yml']
alerting:
  alertmanagers: [{{static_configs: [{{targets: ['127.0.0.1:{am.port}']}}]}}]
scrape_configs:
  - job_name: acme-app
    metrics_path: /acme
    static_configs: [{{targets: ['{target}'], labels: {{org_id: acme}}}}]
  - job_name: globex-app
    metrics_path: /globex
    static_configs: [{{targets: ['{target}'], labels: {{org_id: globex}}}}]
"""
    prom = procs.start_prometheus(config, rules_dir=rules_dir, extra_args=["--rules.alert.resend-delay=1s"])
    settings.PROMETHEUS_URL, settings.PROMETHEUS_RULES_DIR = prom.url, rules_dir
    settings.ALERTMANAGER_URL, settings.ALERTMANAGER_CONFIG_FILE = am.url, am.files["config"]
    settings.PORTAL_VAR_DIR = tmp_path
    yield {"prom": prom, "am": am}
    prom.cleanup()
    am.cleanup()
    exporter.stop()


def prom_has_series(prom: procs.Proc, query: str) -> bool:
    result = httpx.get(prom.url + "/api/v1/query", params={"query": query}).json()["data"]["result"]
    return bool(result)


@pytest.mark.django_db(transaction=True)
def test_the_template_leak_is_refused_and_allowed_templates_fire_without_foreign_data(
        stack: dict[str, Any], api_alice: APIClient, org_a: Organization, org_b: Organization) -> None:
    prom: procs.Proc = stack["prom"]
    # Org B's series is there to be read: a query template would find it.
    wait_for(lambda: prom_has_series(prom, f"globex_revenue_total == {SECRET_VALUE}"), what="org B's series")
    wait_for(lambda: prom_has_series(prom, 'acme_queue_depth{org_id="acme"}'), what="org A's series")

    # 1. The leak, through an annotation, a label value and a rule-file import: 400, nothing stored.
    r = api_alice.post("/api/v1/alerts/rules/", {**RULE, "annotations": {"summary": LEAK}}, format="json")
    assert r.status_code == 400 and r.json()["error"]["details"]["errors"]["annotations"]["summary"], r.content
    r = api_alice.post("/api/v1/alerts/rules/", {**RULE, "labels": {"revenue": LEAK}}, format="json")
    assert r.status_code == 400 and r.json()["error"]["details"]["errors"]["labels"]["revenue"], r.content
    r = api_alice.post("/api/v1/alerts/rules/import/", {"file": import_file({"summary": LEAK})}, format="json")
    assert r.status_code == 400 and r.json()["error"]["details"]["field"] == "groups[0].rules[0].annotations"
    assert not Rule.objects.for_org(org_a).exists()

    # 2. A row that got into the database some other way never reaches Prometheus: marked in error.
    stored = Rule.objects.create(org=org_a, name="Stored leak", kind="promql", expr="vector(1)",
                                 annotations={"summary": LEAK}, labels={"revenue": LEAK})
    sync.request_sync(org_a, [int(stored.pk)])  # autocommit: the sync runs now

    # 3. Allowed templates: the rule fires and its text holds org A's own values only.
    r = api_alice.post("/api/v1/alerts/rules/", {
        **RULE, "labels": {"team": "{{ $labels.job | toUpper }}"},
        "annotations": {"summary": "Queue {{ $labels.job }} is at {{ $value | humanize }}",
                        "description": '{{ printf "%.0f" $value }} items on {{ index $labels "org_id" }}'}},
        format="json")
    assert r.status_code == 201, r.content
    good = Rule.objects.for_org(org_a).get(pk=r.json()["id"])
    assert good.sync_state == "synced", good.sync_error
    stored.refresh_from_db()
    assert stored.sync_state == "error" and "is not allowed" in stored.sync_error, stored.sync_error

    def firing() -> list[dict[str, Any]]:
        alerts: list[dict[str, Any]] = api_alice.get("/api/v1/alerts/active/").json()["alerts"]
        return [a for a in alerts if a["labels"].get("alertname") == "Queue_deep"]

    alerts = wait_for(firing, what="org A's alert in Alertmanager")
    assert alerts[0]["annotations"]["summary"] == "Queue acme-app is at 7"
    assert alerts[0]["annotations"]["description"] == "7 items on acme"
    assert alerts[0]["labels"]["team"] == "ACME-APP"
    everything_a_sees = json.dumps(api_alice.get("/api/v1/alerts/active/").json())
    assert not [v for v in SECRET_SPELLINGS if v in everything_a_sees] and "globex" not in everything_a_sees
    # Prometheus itself never got the stored leak: no loaded rule carries a query template.
    loaded = json.dumps(httpx.get(prom.url + "/api/v1/rules").json())
    assert "globex_revenue_total" not in loaded and "Stored_leak" not in loaded
    every_alert = json.dumps(httpx.get(prom.url + "/api/v1/alerts").json())
    assert not [v for v in SECRET_SPELLINGS if v in every_alert]
