"""Forwarding: Prometheus stopped mid-stream, queue full, retries, VictoriaMetrics and Mimir as targets."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import cramjam
import pytest
from django.test import Client

from metrics_app.models import Datasource
from metrics_in_app import remote_pb
from tests.metrics_in.conftest import now_ms, post_otlp, post_rw, prom_query, wait_for, write_request

pytestmark = pytest.mark.django_db


def test_prometheus_stopped_mid_stream_loses_no_acknowledged_sample(prom: Any, ingest_a: str, settings: Any) -> None:
    settings.METRICS_IN_FORWARD_DEADLINE_SECONDS = 0.5
    c = Client()
    t0 = now_ms()
    acked: set[int] = set()
    refused: list[tuple[int, str, str]] = []
    pending = list(range(60))
    stopper = threading.Timer(0.3, prom.stop)
    stopper.start()
    restarted = False
    started = time.monotonic()
    # A sender that does what remote-write clients do: resend what was not acknowledged, after Retry-After.
    while pending and time.monotonic() - started < 60:
        i = pending.pop(0)
        body = write_request([({"__name__": "stream_samples", "batch": str(i)}, [(t0 + i, float(i))])])
        r = post_rw(c, ingest_a, body)
        if r.status_code == 204:
            acked.add(i)
        else:
            refused.append((i, str(r.status_code), r.get("Retry-After", "")))
            pending.append(i)
            if not restarted and len(refused) >= 3:
                stopper.join()
                prom.start()  # same port, same data directory: the backend "comes back"
                restarted = True
        time.sleep(0.02)
    assert restarted and refused, "Prometheus was never seen down"
    assert all(code == "503" and retry_after == "2" for _, code, retry_after in refused)
    assert acked == set(range(60))
    found = wait_for(prom.url, "stream_samples", 60)
    assert {int(r["metric"]["batch"]) for r in found} == acked


def test_backend_down_answers_503_naming_it(ingest_a: str, settings: Any) -> None:
    settings.PROMETHEUS_URL = "http://127.0.0.1:9"  # nothing listens on the discard port
    settings.METRICS_IN_FORWARD_DEADLINE_SECONDS = 0.3
    r = post_rw(Client(), ingest_a, write_request([({"__name__": "x"}, [(now_ms(), 1.0)])]))
    assert r.status_code == 503 and r["Retry-After"]
    assert "127.0.0.1:9" in r.json()["error"]["message"] and r.json()["error"]["code"] == "backend_unavailable"
    otlp = post_otlp(Client(), ingest_a, b'{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"g","gauge":'
                                          b'{"dataPoints":[{"asDouble":1}]}}]}]}]}', "application/json")
    assert otlp.status_code == 503 and otlp["Retry-After"]


class _Recorder(BaseHTTPRequestHandler):
    """A remote-write endpoint that records requests; answers from a script of status codes."""

    script: list[int] = []
    seen: list[tuple[str, dict[str, str], bytes]] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).seen.append((self.path, dict(self.headers), body))
        status = type(self).script.pop(0) if type(self).script else 204
        if status == -1:
            time.sleep(3)  # slower than the forward timeout
            status = 204
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[str, type[_Recorder]]]:
    handler = type("Rec", (_Recorder,), {"script": [], "seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def test_retries_5xx_and_timeouts_with_backoff(recorder: Any, ingest_a: str, settings: Any) -> None:
    url, rec = recorder
    settings.PROMETHEUS_URL = url
    settings.METRICS_IN_FORWARD_TIMEOUT_SECONDS = 0.5
    settings.METRICS_IN_FORWARD_DEADLINE_SECONDS = 10
    rec.script = [500, 503, -1, 204]
    r = post_rw(Client(), ingest_a, write_request([({"__name__": "x"}, [(now_ms(), 1.0)])]))
    assert r.status_code == 204
    assert len(rec.seen) == 4


@pytest.mark.django_db(transaction=True)
def test_queue_full_answers_429(recorder: Any, ingest_a: str, settings: Any) -> None:
    url, rec = recorder
    settings.PROMETHEUS_URL = url
    settings.METRICS_IN_QUEUE_MAX_SAMPLES = 1
    settings.METRICS_IN_FORWARD_TIMEOUT_SECONDS = 5
    rec.script = [-1]  # the first write hangs for 3 s, holding the queue
    body = write_request([({"__name__": "x"}, [(now_ms(), 1.0)])])
    first: list[int] = []
    t = threading.Thread(target=lambda: first.append(post_rw(Client(), ingest_a, body).status_code))
    t.start()
    time.sleep(0.5)
    r = post_rw(Client(), ingest_a, body)
    t.join()
    assert r.status_code == 429 and r["Retry-After"] and r.json()["error"]["code"] == "queue_full"
    assert first == [204]


def test_mimir_gets_tenant_header(recorder: Any, ingest_a: str) -> None:
    url, rec = recorder
    Datasource.objects.create(name="mimir", kind="mimir", url=url, is_default=True)
    r = post_rw(Client(), ingest_a, write_request([({"__name__": "x", "org_id": "globex"}, [(now_ms(), 1.0)])]))
    assert r.status_code == 204
    path, headers, body = rec.seen[0]
    assert path == "/api/v1/push" and headers["X-Scope-OrgID"] == "acme"
    assert headers["Content-Encoding"] == "snappy"
    wr = remote_pb.WriteRequest.FromString(bytes(cramjam.snappy.decompress_raw(body)))
    labels = {lb.name: lb.value for lb in wr.timeseries[0].labels}
    assert labels == {"__name__": "x", "org_id": "acme", "exported_org_id": "globex"}


def test_victoriametrics_as_datasource(victoriametrics: Any, ingest_a: str) -> None:
    Datasource.objects.create(name="vm", kind="victoriametrics", url=victoriametrics.url, is_default=True)
    t = now_ms()
    r = post_rw(Client(), ingest_a, write_request([({"__name__": "vm_metric", "org_id": "globex"}, [(t, 3.0)])]))
    assert r.status_code == 204, r.content
    r = post_otlp(Client(), ingest_a, b'{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"vm.gauge",'
                                      b'"gauge":{"dataPoints":[{"asDouble":2}]}}]}]}]}', "application/json")
    assert r.status_code == 200
    found = wait_for(victoriametrics.url, "vm_metric")
    assert found[0]["metric"]["org_id"] == "acme" and found[0]["metric"]["exported_org_id"] == "globex"
    assert wait_for(victoriametrics.url, "vm_gauge")[0]["metric"]["org_id"] == "acme"
    assert prom_query(victoriametrics.url, '{org_id="globex"}') == []
