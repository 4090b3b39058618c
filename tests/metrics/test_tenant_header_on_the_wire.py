"""A multi-tenant backend (Mimir/Cortex) isolates by `X-Scope-OrgID`: every read and write path the portal
offers must send the calling org's id on the wire, and the result cache must never hand one org's answer to
another. The backend here is a recording HTTP server speaking the Prometheus API under /prometheus, as Mimir
does; the answer's value depends on the tenant header it received, so a cache shared across orgs shows."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client
from rest_framework.test import APIClient

from metrics_app.models import Datasource
from metrics_in_app.forwarder import FORWARDER
from portal.tenancy.models import Organization
from tests.conftest import token_client
from tests.metrics_in.conftest import now_ms, post_otlp, post_rw, write_request

pytestmark = pytest.mark.django_db

VALUE_FOR = {"acme": "1", "globex": "2"}


class _Mimir(BaseHTTPRequestHandler):
    seen: list[tuple[str, str, str | None]] = []

    def _answer(self) -> None:
        tenant = self.headers.get("X-Scope-OrgID")
        path = urlsplit(self.path).path
        type(self).seen.append((self.command, path, tenant))
        if path == "/api/v1/push":
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        value = VALUE_FOR.get(tenant or "", "999")
        now = time.time()
        metric = {"__name__": "requests_total", "job": "api"}
        data: Any
        if path.endswith("/api/v1/query"):
            data = {"resultType": "vector", "result": [{"metric": metric, "value": [now, value]}]}
        elif path.endswith("/api/v1/query_range"):
            data = {"resultType": "matrix",
                    "result": [{"metric": metric, "values": [[now - 60 * i, value] for i in range(5, 0, -1)]}]}
        elif path.endswith("/api/v1/series"):
            data = [metric]
        elif path.endswith("/api/v1/labels"):
            data = ["__name__", "job"]
        elif "/api/v1/label/" in path:
            data = ["api"]
        elif path.endswith("/api/v1/metadata"):
            data = {"requests_total": [{"type": "counter", "help": "Requests.", "unit": ""}]}
        else:
            data = {}
        body = json.dumps({"status": "success", "data": data}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        self._answer()

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._answer()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def mimir(settings: Any) -> Iterator[type[_Mimir]]:
    handler = type("Mimir", (_Mimir,), {"seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    Datasource.objects.create(name="mimir", kind="mimir", url=url, is_default=True)
    settings.METRICS_IN_FORWARD_DEADLINE_SECONDS = 3.0
    yield handler
    server.shutdown()
    server.server_close()
    FORWARDER.__init__()  # type: ignore[misc]  # drop pooled connections to the stopped server


def _reads(client: APIClient) -> dict[str, Any]:
    """Every read path an org member has, each answered through the datasource."""
    now = time.time()
    return {
        "query": client.get("/prometheus/api/v1/query", {"query": "requests_total"}),
        "query_range": client.get("/prometheus/api/v1/query_range",
                                  {"query": "requests_total", "start": now - 300, "end": now, "step": 60}),
        "series": client.get("/prometheus/api/v1/series", {"match[]": "requests_total"}),
        "labels": client.get("/prometheus/api/v1/labels"),
        "label_values": client.get("/prometheus/api/v1/label/job/values"),
        "metadata": client.get("/prometheus/api/v1/metadata"),
        "explore": client.get("/api/v1/explore/query/", {"query": "requests_total", "from": "now-5m"}),
        "explore_labels": client.get("/api/v1/explore/labels/"),
        "explore_values": client.get("/api/v1/explore/labels/job/values/"),
        "rule_preview": client.post("/api/v1/alerts/rules/preview/",
                                    {"kind": "threshold", "name": "r", "query": "requests_total",
                                     "comparator": ">", "threshold": 0}, format="json"),
    }


def _values_in(body: Any) -> set[str]:
    """Every sample value in an answer (vector, matrix or the preview's points), as strings."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "value" in node and isinstance(node["value"], list):
                found.add(str(node["value"][1]))
            for key in ("values", "points"):
                if isinstance(node.get(key), list):
                    found.update(str(p[1]) for p in node[key] if isinstance(p, list) and len(p) == 2)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(body)
    return {str(float(v)) for v in found}


def test_every_read_path_sends_the_callers_org(mimir: type[_Mimir], org_a: Organization, org_b: Organization,
                                               alice: Any, charlie: Any) -> None:
    answers_a = _reads(token_client(org_a, alice))
    for name, r in answers_a.items():
        assert r.status_code == 200, (name, r.content)
    tenants_a = {t for _, p, t in mimir.seen if p != "/api/v1/push"}
    paths_a = {p for _, p, _ in mimir.seen}
    assert tenants_a == {"acme"}
    for endpoint in ("query", "query_range", "series", "labels", "label/job/values", "metadata"):
        assert f"/prometheus/api/v1/{endpoint}" in paths_a, endpoint
    # The sample values are the ones the backend gave the acme tenant.
    for name in ("query", "query_range", "explore", "rule_preview"):
        assert _values_in(answers_a[name].json()) == {"1.0"}, name

    # Org B asks the very same things right after: nothing comes from A's cache entries.
    mimir.seen.clear()
    answers_b = _reads(token_client(org_b, charlie))
    for name, r in answers_b.items():
        assert r.status_code == 200, (name, r.content)
    assert {t for _, _, t in mimir.seen} == {"globex"}
    for name in ("query", "query_range", "explore", "rule_preview"):
        assert _values_in(answers_b[name].json()) == {"2.0"}, name


def test_builtin_dashboard_queries_send_the_callers_org(mimir: type[_Mimir], org_a: Organization,
                                                        alice: Any) -> None:
    client = token_client(org_a, alice)
    listing = client.get("/api/v1/builtin-dashboards/")
    assert listing.status_code == 200
    slugs = [d["slug"] for d in listing.json()["results"]] if isinstance(listing.json(), dict) else \
        [d["slug"] for d in listing.json()]
    assert slugs
    r = client.get(f"/api/v1/builtin-dashboards/{slugs[0]}/data/")
    assert r.status_code == 200, r.content
    assert mimir.seen and {t for _, _, t in mimir.seen} == {"acme"}


def test_every_write_path_sends_the_senders_org(mimir: type[_Mimir], ingest_a: str, ingest_b: str) -> None:
    rw = post_rw(Client(), ingest_a, write_request([({"__name__": "x", "org_id": "globex"}, [(now_ms(), 1.0)])]))
    assert rw.status_code == 204, rw.content
    otlp = post_otlp(Client(), ingest_b, b'{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"g",'
                                         b'"gauge":{"dataPoints":[{"asDouble":1}]}}]}]}]}', "application/json")
    assert otlp.status_code == 200, otlp.content
    pushes = [(p, t) for _, p, t in mimir.seen]
    assert pushes == [("/api/v1/push", "acme"), ("/api/v1/push", "globex")]
