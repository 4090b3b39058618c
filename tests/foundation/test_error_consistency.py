"""One condition, one code and status, whichever app meets it: bad PromQL in the Prometheus API, Explore,
alert rules and rule previews; a bad log search in search, tail, exports and log rules; a metrics backend
that is down for dashboards, Explore, rule previews, the Prometheus API and metrics ingest."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from alerts_app.models import Rule
from logs_app.exports.models import Export
from portal.tenancy.models import Organization
from tests import procs
from tests.metrics_in.conftest import now_ms, post_rw, write_request

pytestmark = pytest.mark.django_db

BAD_PROMQL = "sum(rate(http_requests_total[5m])"
FOREIGN_PROMQL = 'up{org_id="globex"}'
BAD_LOG_QUERY = "level=error AND (service=x"


@pytest.fixture
def no_backends(settings: Any, tmp_path: Any) -> None:
    """Nothing answers on the backend URLs, and rule files go to a scratch directory."""
    settings.PROMETHEUS_URL = f"http://127.0.0.1:{procs.free_port()}"
    settings.ALERTMANAGER_URL = ""
    settings.PROMETHEUS_RULES_DIR = tmp_path / "rules"
    settings.ALERTMANAGER_CONFIG_FILE = tmp_path / "am" / "alertmanager.yml"
    settings.PORTAL_VAR_DIR = tmp_path
    settings.METRICS_IN_FORWARD_DEADLINE_SECONDS = 0.3


def _promql_answers(client: APIClient, query: str) -> dict[str, Any]:
    rule = {"name": "Check", "severity": "warning", "for_duration": "0s"}
    return {
        "explore": client.get("/api/v1/explore/query/", {"query": query}),
        "promql rule": client.post("/api/v1/alerts/rules/", {**rule, "kind": "promql", "expr": query},
                                   format="json"),
        "threshold rule": client.post("/api/v1/alerts/rules/", {**rule, "kind": "threshold", "query": query,
                                                                 "comparator": ">", "threshold": 1},
                                      format="json"),
        "rule preview": client.post("/api/v1/alerts/rules/preview/", {"kind": "promql", "expr": query},
                                    format="json"),
    }


@pytest.mark.parametrize(("query", "code"), [(BAD_PROMQL, "invalid_promql"), (FOREIGN_PROMQL, "foreign_org_matcher")])
def test_bad_promql_has_one_code_in_every_app(api_alice: APIClient, org_a: Organization, no_backends: None,
                                              query: str, code: str) -> None:
    prom = api_alice.get("/prometheus/api/v1/query", {"query": query})
    assert prom.status_code == 400, prom.content
    assert prom.json()["errorType"] == "bad_data" and prom.json()["code"] == code
    for where, r in _promql_answers(api_alice, query).items():
        assert r.status_code == 400, (where, r.content)
        assert r.json()["error"]["code"] == code, (where, r.json())
    assert not Rule.objects.for_org(org_a).exists()


def test_bad_log_search_has_one_code_in_every_app(api_alice: APIClient, org_a: Organization,
                                                  no_backends: None) -> None:
    answers = {
        "search": api_alice.get("/api/v1/logs/search", {"q": BAD_LOG_QUERY}),
        "tail": api_alice.get("/api/v1/logs/tail/", {"q": BAD_LOG_QUERY}),
        "export": api_alice.post("/api/v1/exports/", {"query": BAD_LOG_QUERY, "since": "01:00:00"}, format="json"),
        "log rule": api_alice.post("/api/v1/alerts/rules/", {
            "name": "Errors", "kind": "log", "log_query": BAD_LOG_QUERY, "log_count": 1,
            "log_window_minutes": 5, "severity": "warning"}, format="json"),
    }
    for where, r in answers.items():
        assert r.status_code == 400, (where, r.content)
        err = r.json()["error"]
        assert err["code"] == "invalid_query", (where, err)
        assert isinstance(err["details"]["position"], int), (where, err)
    assert not Rule.objects.for_org(org_a).exists() and not Export.objects.for_org(org_a).exists()


def test_metrics_backend_down_has_one_code_in_every_app(api_alice: APIClient, ingest_a: str,
                                                       no_backends: None) -> None:
    answers = {
        "dashboard": api_alice.get("/api/v1/builtin-dashboards/platform-overview/data/"),
        "explore": api_alice.get("/api/v1/explore/query/", {"query": "up"}),
        "rule preview": api_alice.post("/api/v1/alerts/rules/preview/", {"kind": "promql", "expr": "up"},
                                       format="json"),
        "remote write": post_rw(Client(), ingest_a, write_request([({"__name__": "x"}, [(now_ms(), 1.0)])])),
    }
    for where, r in answers.items():
        assert r.status_code == 503, (where, r.content)
        err = r.json()["error"]
        assert (err["code"], err["details"]["backend"]) == ("backend_unavailable", "prometheus"), (where, err)
    prom = api_alice.get("/prometheus/api/v1/query", {"query": "up"})
    assert prom.status_code == 503
    body = prom.json()
    assert (body["errorType"], body["code"], body["details"]["backend"]) == (
        "unavailable", "backend_unavailable", "prometheus")


def test_credentials_refused_have_one_code(ingest_a: str, no_backends: None) -> None:
    """A wrong token is `authentication_failed` for the REST API, the Prometheus API and remote write."""
    api = Client().get("/api/v1/dashboards/", HTTP_AUTHORIZATION="Bearer pt_wrong")
    prom = Client().get("/prometheus/api/v1/query", {"query": "up"}, HTTP_AUTHORIZATION="Bearer pt_wrong")
    rw = post_rw(Client(), "pi_wrong", write_request([({"__name__": "x"}, [(now_ms(), 1.0)])]))
    assert (api.status_code, api.json()["error"]["code"]) == (401, "authentication_failed")
    assert (prom.status_code, prom.json()["code"]) == (401, "authentication_failed")
    assert (rw.status_code, rw.json()["error"]["code"]) == (401, "authentication_failed")
