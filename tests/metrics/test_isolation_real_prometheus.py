"""Adversarial queries against a real Prometheus holding three orgs' data (plus decoys): nothing of
another org ever comes back. Each org's samples live in their own magnitude (acme < 1000), so a leak
shows in the numbers even when labels are rewritten or aggregated away."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.test import Client

from portal.tenancy import services
from portal.tenancy.models import Organization

pytestmark = [pytest.mark.django_db, pytest.mark.backends]

BASE = "/prometheus/api/v1"

ADVERSARIAL = [
    "up",
    '{__name__=~".+"}',
    '{__name__=~".+", job=~".*"}',
    '{__name__!=""}',
    "count({__name__=~\".+\"})",
    "sum({__name__=~\".+\"})",
    "group by (org_id, secret) ({__name__=~\".+\"})",
    "topk(1000, {__name__=~\".+\"})",
    "sum(up) or sum(org_secret_info)",
    "up or org_secret_info",
    "up or on() vector(0)",
    "org_secret_info unless up",
    "up unless on(job) org_secret_info",
    "sum(up) + on() group_left sum(org_secret_info)",
    'label_replace(up, "org_id", "globex", "", "")',
    'label_replace({__name__=~".+"}, "org_id", "$1", "org_id", "(.*)")',
    'absent(org_secret_info{secret="globex-secret"})',
    "absent(nonexistent_metric)",
    "absent_over_time(org_secret_info[5m])",
    "max_over_time(sum(org_secret_info)[5m:30s])",
    'sum_over_time({__name__=~".+"}[5m:15s] offset 1m)',
    "rate(http_requests_total[5m] offset 1m)",
    "sum by (org_id) (rate(http_requests_total[2m]))",
    "up @ end()",
    "count_values(\"org_id\", up)",
    'sort_desc(sum by (__name__) ({__name__=~"only_.*"}))',
    "scalar(sum(org_secret_info)) * up",
    "http_requests_total > bool 0",
    "-http_requests_total",
    "max_over_time(http_requests_total[10m])",
    "last_over_time({__name__=~\"only_.*_metric\"}[10m])",
    'up{job="api", instance=~".+"}',
    'up{job="x\\"} or {org_id=\\"globex"}',
]

REJECTED = [
    'up{org_id="globex"}',
    'up{org_id!="acme"}',
    'up{org_id=~"acme|globex"}',
    'up{org_id=~"acme.*"}',
    'up{org_id=~".+"}',
    'up{org_id!~"acme"}',
    'up{org_id=""}',
    'up or org_secret_info{org_id="initech"}',
    'max_over_time(org_secret_info{org_id=~"glo.*"}[5m:1m])',
    'absent(org_secret_info{org_id="globex"})',
    'label_replace(up{org_id!=""}, "x", "y", "", "")',
]


@pytest.fixture
def acme(org_a: Organization, alice: Any) -> Client:
    _, secret = services.create_api_token(org_a, alice, "adv", "read")
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


def _values(data: dict[str, Any]) -> list[float]:
    rt, result = data["resultType"], data["result"]
    if rt == "vector":
        return [float(r["value"][1]) for r in result]
    if rt == "matrix":
        return [float(v) for r in result for _, v in r["values"]]
    if rt == "scalar":
        return [float(result[1])]
    return []


def _label_values(data: dict[str, Any]) -> set[str]:
    if data["resultType"] not in ("vector", "matrix"):
        return set()
    return {v for r in data["result"] for k, v in r["metric"].items() if k != "__name__"}


@pytest.mark.parametrize("query", ADVERSARIAL)
def test_adversarial_queries_see_only_acme(acme: Client, prom_env: Any, query: str) -> None:
    now = time.time()
    for resp in (acme.post(f"{BASE}/query", {"query": query, "time": now}),
                 acme.post(f"{BASE}/query_range", {"query": query, "start": now - 300, "end": now, "step": 30})):
        assert resp.status_code == 200, (query, resp.content)
        data = json.loads(resp.content)["data"]
        assert all(abs(v) < 1000 for v in _values(data)), (query, data)
        leaked = {v for v in _label_values(data) if any(o in v for o in ("globex", "initech", "acme2", "platform"))}
        if "label_replace" not in query and "absent" not in query:  # both copy labels from the query text
            assert not leaked, (query, leaked)
        # Metric names of other orgs never appear either.
        names = {r["metric"].get("__name__", "") for r in data["result"]} if isinstance(data["result"], list) else set()
        assert not {n for n in names if "globex" in n or "initech" in n or "platform" in n}


def test_the_data_really_is_there(org_b: Organization, charlie: Any, prom_env: Any) -> None:
    """The adversarial test is only meaningful if other orgs' data exists and is visible to them."""
    _, secret = services.create_api_token(org_b, charlie, "adv", "read")
    globex = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    data = json.loads(globex.post(f"{BASE}/query", {"query": "sum(org_secret_info)"}).content)["data"]
    assert float(data["result"][0]["value"][1]) == 1000.0


@pytest.mark.parametrize("query", REJECTED)
def test_queries_naming_another_org_are_rejected(acme: Client, prom_env: Any, query: str) -> None:
    resp = acme.post(f"{BASE}/query", {"query": query})
    assert resp.status_code == 400, (query, resp.content)
    body = json.loads(resp.content)
    assert body["errorType"] == "bad_data" and "org_id" in body["error"]


@pytest.mark.parametrize("match", ['{__name__=~".+"}', 'org_secret_info', '{job=~".+"}', '{secret=~".+"}'])
def test_series_match_sees_only_acme(acme: Client, prom_env: Any, match: str) -> None:
    data = json.loads(acme.get(f"{BASE}/series", {"match[]": match}).content)["data"]
    assert data and {s["org_id"] for s in data} == {"acme"}
