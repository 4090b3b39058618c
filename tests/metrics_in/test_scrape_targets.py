"""Self-service scrape targets: API, SSRF guard, file_sd file, a real exporter scraped by a real Prometheus."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from django.test import Client

from metrics_in_app import file_sd
from metrics_in_app.models import ScrapeTarget
from tests import procs
from tests.metrics_in.conftest import wait_for

pytestmark = pytest.mark.django_db

EXPORTER = """
import sys, time
from prometheus_client import Gauge, start_http_server
g = Gauge("shop_stock_items", "Items in stock", ["org_id", "sku"])
g.labels(org_id="globex", sku="a1").set(42)
start_http_server(int(sys.argv[1]), addr="127.0.0.1")
while True:
    time.sleep(1)
"""


@pytest.fixture
def exporter() -> Iterator[str]:
    """A real exporter process that claims org_id="globex" on its series."""
    port = procs.free_port()
    p = subprocess.Popen([sys.executable, "-c", EXPORTER, str(port)])
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        p.terminate()
        p.wait(5)


@pytest.fixture
def allow_loopback(settings: Any) -> None:
    settings.OUTBOUND_URL_ALLOW = ["127.0.0.1/32"]


def test_ssrf_guard_refuses_internal_targets(api_alice: Any, settings: Any, tmp_path: Any) -> None:
    settings.PROMETHEUS_FILE_SD_DIR = tmp_path
    settings.PROMETHEUS_URL = "http://127.0.0.1:9090"
    for address in ["127.0.0.1:9100", "localhost:9100", "10.1.2.3:80", "192.168.0.5:9100", "169.254.169.254:80",
                    "[::1]:9100", "0.0.0.0:9100", "100.64.1.1:80"]:
        r = api_alice.post("/api/v1/scrape-targets/", {"name": "x", "address": address}, format="json")
        assert r.status_code == 400, (address, r.content)
        assert r.json()["error"]["code"] in ("forbidden_target", "invalid"), address
    for address in ["nohost", "a:b", "h:0", "h:70000", "user@h:80", "h:80/x"]:
        r = api_alice.post("/api/v1/scrape-targets/", {"name": "x", "address": address}, format="json")
        assert r.status_code == 400, address
    # Allowed network, but the platform's own Prometheus stays refused.
    settings.OUTBOUND_URL_ALLOW = ["127.0.0.0/8"]
    r = api_alice.post("/api/v1/scrape-targets/", {"name": "x", "address": "127.0.0.1:9090"}, format="json")
    assert r.status_code == 400 and "platform" in r.json()["error"]["message"]
    r = api_alice.post("/api/v1/scrape-targets/", {"name": "x", "address": "127.0.0.1:9100"}, format="json")
    assert r.status_code == 201, r.content
    assert ScrapeTarget.objects.all_orgs().count() == 1


@pytest.mark.django_db(transaction=True)
def test_api_crud_roles_and_cross_org(api_alice: Any, api_bob: Any, api_charlie: Any, api_carol: Any,
                                      allow_loopback: None, settings: Any, tmp_path: Any, org_a: Any) -> None:
    settings.PROMETHEUS_FILE_SD_DIR = tmp_path
    body = {"name": "shop", "address": "127.0.0.1:9200", "metrics_path": "/m", "interval_seconds": 15,
            "labels": {"team": "web"}, "auth_type": "bearer", "bearer_token": "s3cret"}
    assert api_bob.post("/api/v1/scrape-targets/", body, format="json").status_code == 403
    assert api_carol.post("/api/v1/scrape-targets/", body, format="json").status_code == 403  # editors too
    r = api_alice.post("/api/v1/scrape-targets/", body, format="json")
    assert r.status_code == 201, r.content
    data = r.json()
    assert "bearer_token" not in data and data["secret_set"] is True
    tid = data["id"]
    assert ScrapeTarget.objects.for_org(org_a).get().bearer_token == "s3cret"
    assert api_bob.get(f"/api/v1/scrape-targets/{tid}/").json()["id"] == tid
    # Another org: 404 everywhere.
    assert api_charlie.get(f"/api/v1/scrape-targets/{tid}/").status_code == 404
    assert api_charlie.patch(f"/api/v1/scrape-targets/{tid}/", {"name": "x"}, format="json").status_code == 404
    assert api_charlie.delete(f"/api/v1/scrape-targets/{tid}/").status_code == 404
    assert api_charlie.get(f"/api/v1/scrape-targets/{tid}/health/").status_code == 404
    assert [t["id"] for t in api_alice.get("/api/v1/scrape-targets/").json()["results"]] == [tid]
    assert api_charlie.get("/api/v1/scrape-targets/").json()["results"] == []
    # Label checks: the org label cannot be set by the admin either.
    r = api_alice.patch(f"/api/v1/scrape-targets/{tid}/", {"labels": {"org_id": "globex"}}, format="json")
    assert r.status_code == 400
    r = api_alice.patch(f"/api/v1/scrape-targets/{tid}/", {"labels": {"__address__": "x"}}, format="json")
    assert r.status_code == 400
    assert api_alice.delete(f"/api/v1/scrape-targets/{tid}/").status_code == 204
    assert json.loads((tmp_path / "acme.json").read_text()) == []


@pytest.mark.django_db(transaction=True)
def test_file_sd_written_atomically_with_org_label(api_alice: Any, allow_loopback: None, settings: Any,
                                                   tmp_path: Any, org_a: Any, org_b: Any) -> None:
    settings.PROMETHEUS_FILE_SD_DIR = tmp_path
    r = api_alice.post("/api/v1/scrape-targets/", {"name": "a", "address": "127.0.0.1:9201", "scheme": "https",
                                                   "labels": {"team": "web"}}, format="json")
    assert r.status_code == 201
    groups = json.loads((tmp_path / "acme.json").read_text())
    assert groups == [{"targets": ["127.0.0.1:9201"], "labels": {
        "team": "web", "org_id": "acme", "__metrics_path__": "/metrics", "__scheme__": "https",
        "__scrape_interval__": "30s", "__scrape_timeout__": "10s",
        "__meta_portal_target_id": str(r.json()["id"])}}]
    assert not (tmp_path / "globex.json").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["acme.json"]  # no temp files left behind
    # The periodic rewrite (drift repair) writes every org's file, B's empty.
    from metrics_in_app.tasks import rewrite_all_scrape_targets

    (tmp_path / "acme.json").write_text("garbage")
    assert rewrite_all_scrape_targets() == 2
    assert json.loads((tmp_path / "globex.json").read_text()) == []
    assert len(json.loads((tmp_path / "acme.json").read_text())) == 1
    # A target that became forbidden (allow-list removed) drops out at the next write.
    settings.OUTBOUND_URL_ALLOW = []
    file_sd.write(org_a)
    assert json.loads((tmp_path / "acme.json").read_text()) == []


@pytest.mark.django_db(transaction=True)
def test_exporter_claiming_other_org_stays_in_own_org(prom: Any, exporter: str, api_alice: Any, api_charlie: Any,
                                                      allow_loopback: None) -> None:
    r = api_alice.post("/api/v1/scrape-targets/", {"name": "stock", "address": exporter, "interval_seconds": 5},
                       format="json")
    assert r.status_code == 201, r.content
    tid = r.json()["id"]
    found = wait_for(prom.url, "shop_stock_items", timeout=30)
    assert len(found) == 1
    metric = found[0]["metric"]
    assert metric["org_id"] == "acme" and metric["exported_org_id"] == "globex"
    assert wait_for(prom.url, 'shop_stock_items{org_id="globex"}', timeout=1) == []
    health = api_alice.get(f"/api/v1/scrape-targets/{tid}/health/").json()
    assert health["health"] == "up" and health["last_error"] == "" and health["last_scrape"]
    # Charlie's org has no targets, and its health listing shows none of A's.
    assert api_charlie.get("/api/v1/scrape-targets/health/").json() == {"targets": []}


def test_settings_page(web_alice: Client, web_charlie: Client, allow_loopback: None, settings: Any,
                       tmp_path: Any, bob: Any, org_a: Any) -> None:
    settings.PROMETHEUS_FILE_SD_DIR = tmp_path
    url = "/o/acme/settings/scrape-targets/"
    assert web_alice.get(url).status_code == 200
    assert web_charlie.get(url).status_code == 404
    r = web_alice.post(url, {"op": "create", "name": "web", "address": "127.0.0.1:9300", "metrics_path": "/metrics",
                             "scheme": "http", "interval_seconds": 30, "labels": "team=web", "auth_type": "none"})
    assert r.status_code == 302
    assert ScrapeTarget.objects.for_org(org_a).get().labels == {"team": "web"}
    r = web_alice.post(url, {"op": "create", "name": "bad", "address": "10.0.0.1:80", "metrics_path": "/metrics",
                             "scheme": "http", "interval_seconds": 30, "auth_type": "none"})
    assert r.status_code == 200 and b"private address" in r.content
    viewer = Client()
    viewer.force_login(bob)
    assert viewer.get(url).status_code == 200
    assert viewer.post(url, {"op": "delete", "id": ScrapeTarget.objects.for_org(org_a).get().pk}).status_code == 403


AUTH_EXPORTER = """
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.headers.get("Authorization") != "Basic " + sys.argv[2]:
            self.send_response(401); self.end_headers(); return
        body = b'shop_secure_items{org_id="globex"} 7\\n'
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


@pytest.mark.django_db(transaction=True)
def test_target_with_basic_auth_scraped_through_relay(prom: Any, live_server: Any, api_alice: Any,
                                                      allow_loopback: None, settings: Any) -> None:
    import base64

    settings.METRICS_IN_RELAY_BASE_URL = live_server.url
    port = procs.free_port()
    cred = base64.b64encode(b"scraper:hunter2").decode()
    p = subprocess.Popen([sys.executable, "-c", AUTH_EXPORTER, str(port), cred])
    try:
        r = api_alice.post("/api/v1/scrape-targets/", {
            "name": "secure", "address": f"127.0.0.1:{port}", "interval_seconds": 5, "auth_type": "basic",
            "username": "scraper", "password": "hunter2"}, format="json")
        assert r.status_code == 201, r.content
        groups = json.loads((prom.files["file_sd_dir"] / "acme.json").read_text())
        assert "hunter2" not in json.dumps(groups)  # credentials never reach the file
        relay = groups[0]["labels"]["__metrics_path__"]
        assert relay.startswith("/api/v1/metrics-in/relay/")
        found = wait_for(prom.url, "shop_secure_items", timeout=30)
        assert found and found[0]["metric"]["org_id"] == "acme"
        assert found[0]["metric"]["exported_org_id"] == "globex"
        assert found[0]["metric"]["instance"] == f"127.0.0.1:{port}"
        health = api_alice.get(f"/api/v1/scrape-targets/{r.json()['id']}/health/").json()
        assert health["health"] == "up" and "relay/" not in health["scrape_url"]
        # A tampered relay path is refused.
        assert httpx.get(live_server.url + relay[:-3] + "xx/", timeout=5).status_code == 404
        # Wrong password: the scrape fails and the error is readable in the target's health.
        api_alice.patch(f"/api/v1/scrape-targets/{r.json()['id']}/", {"password": "wrong"}, format="json")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            health = api_alice.get(f"/api/v1/scrape-targets/{r.json()['id']}/health/").json()
            if health["health"] == "down":
                break
            time.sleep(1)
        assert health["health"] == "down" and "502" in health["last_error"]
    finally:
        p.terminate()
        p.wait(5)
