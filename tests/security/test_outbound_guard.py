"""The one outbound-URL guard (portal/backends/outbound.py) for every URL the platform calls on an
organization's behalf: notification channels, the Alertmanager webhook relay, scrape targets and the
scrape relay. Real HTTP on loopback; the guard's resolver is the one seam replaced (no local DNS), to
show that a name is resolved once and the connection goes to the address that was checked."""

from __future__ import annotations

import ipaddress
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.test import Client
from rest_framework.test import APIClient

from alerts_app import render
from alerts_app import secrets as channel_secrets
from alerts_app.models import Channel, ChannelKind
from metrics_app.models import Datasource
from metrics_in_app import relay
from metrics_in_app.models import ScrapeTarget
from portal.backends import outbound
from portal.credentials import AuthType
from portal.tenancy.models import Organization
from tests import procs

pytestmark = pytest.mark.django_db

SECRET_BODY = "REMOTE-BODY-must-never-be-shown"


class Receiver:
    """A local HTTP endpoint answering every request with a fixed status, body and headers."""

    def __init__(self, status: int = 200, body: str = SECRET_BODY, headers: dict[str, str] | None = None) -> None:
        self.requests: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                          "raw": raw})
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(body.encode())

            do_GET = do_POST = _answer  # noqa: N815 - http.server's naming

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver_factory(settings: Any) -> Iterator[Callable[..., Receiver]]:
    """Receivers on loopback, each allow-listed by its own host:port only (unless `allow=False`)."""
    started: list[Receiver] = []

    def make(allow: bool = True, **kwargs: Any) -> Receiver:
        r = Receiver(**kwargs)
        if allow:
            settings.OUTBOUND_URL_ALLOW = [*settings.OUTBOUND_URL_ALLOW, f"127.0.0.1:{r.port}"]
        started.append(r)
        return r

    yield make
    for r in started:
        r.stop()


@pytest.fixture(autouse=True)
def quiet_backends(tmp_path: Path, settings: Any) -> None:
    """Rendered configs and file_sd files go to a temp dir; no backend unless a test starts one."""
    settings.PROMETHEUS_RULES_DIR = tmp_path / "rules"
    settings.ALERTMANAGER_CONFIG_FILE = tmp_path / "am" / "alertmanager.yml"
    settings.PROMETHEUS_FILE_SD_DIR = tmp_path / "file_sd"
    settings.PROMETHEUS_URL = settings.ALERTMANAGER_URL = ""
    settings.OUTBOUND_URL_ALLOW = []


class FakeDNS:
    """`*.test` names answer from `answers`, one answer per lookup (the last one repeats); every other name
    goes to the real resolver. `calls` counts lookups per name."""

    def __init__(self, real: Callable[[str, int], list[Any]]) -> None:
        self.answers: dict[str, list[str]] = {}
        self.calls: dict[str, int] = {}
        self.real = real

    def resolve(self, host: str, port: int) -> list[Any]:
        if not host.endswith(".test"):
            return self.real(host, port)
        n = self.calls.get(host, 0)
        self.calls[host] = n + 1
        seq = self.answers[host]
        return [ipaddress.ip_address(seq[min(n, len(seq) - 1)])]


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> FakeDNS:
    dns = FakeDNS(outbound.resolve)
    monkeypatch.setattr(outbound, "resolve", dns.resolve)
    return dns


def channel_body(kind: str, url: str, **extra: Any) -> tuple[dict[str, Any], str]:
    """(API body, the field that carries the URL) for a channel kind with an org-supplied URL."""
    if kind == "webhook":
        return {"name": "c", "kind": kind, "secrets": {"url": url, **extra}}, "secrets.url"
    return {"name": "c", "kind": kind, "secrets": {"webhook_url": url}}, "secrets.webhook_url"


def save(client: APIClient, kind: str, host_port: str) -> tuple[Any, str]:
    """Save `host_port` as a channel URL of `kind` or as a scrape target; (response, expected field)."""
    if kind == "scrape":
        r = client.post("/api/v1/scrape-targets/", {"name": "t", "address": host_port}, format="json")
        return r, "address"
    body, field = channel_body(kind, f"http://{host_port}/hook")
    return client.post("/api/v1/alerts/channels/", body, format="json"), field


KINDS = ["slack", "teams", "webhook", "scrape"]
# (host:port, what it is); every one refused.
REFUSED = [
    ("127.0.0.1:8080", "loopback"), ("127.8.9.10:80", "loopback"), ("localhost:8080", "loopback"),
    ("[::1]:8080", "loopback"),
    ("10.1.2.3:80", "private"), ("172.16.5.4:80", "private"), ("192.168.1.1:80", "private"),
    ("[fd12:3456::1]:80", "private"), ("169.254.10.1:80", "link-local"), ("[fe80::1]:80", "link-local"),
    ("100.64.0.1:80", "carrier-grade NAT"), ("169.254.169.254:80", "metadata"), ("[fd00:ec2::254]:80", "metadata"),
    ("metadata.google.internal:80", "metadata"), ("192.0.0.8:80", "192.0.0.0/24"),
    ("0.0.0.0:80", "0.0.0.0/8"), ("0.1.2.3:80", "0.0.0.0/8"), ("[::]:80", "unspecified"),
    ("224.0.0.1:80", "multicast"), ("[ff02::1]:80", "multicast"), ("240.0.0.1:80", "reserved"),
    ("[::ffff:127.0.0.1]:80", "IPv4-mapped"), ("[::ffff:8.8.8.8]:80", "IPv4-mapped"),
    ("[::10.0.0.1]:80", "IPv4-compatible"),
    ("[2002:7f00:1::1]:80", "6to4"), ("[2002:a9fe:a9fe::1]:80", "6to4"),
    ("[64:ff9b::7f00:1]:80", "NAT64"), ("[64:ff9b::a00:1]:80", "NAT64"), ("[64:ff9b:1::a00:1]:80", "NAT64"),
    ("[2001:0:4136:e378:8000:63bf:80ff:fffe]:80", "Teredo"),
]


@pytest.mark.parametrize(("host_port", "what"), REFUSED, ids=[f"{h} {w}" for h, w in REFUSED])
def test_every_internal_address_class_refused_at_save(api_alice: APIClient, host_port: str, what: str) -> None:
    for kind in KINDS:  # every channel kind with a URL, and scrape targets
        r, field = save(api_alice, kind, host_port)
        assert r.status_code == 400, (kind, r.content)
        err = r.json()["error"]
        assert err["details"]["field"] == field and err["message"].startswith(f"{field}: "), (kind, err)
        assert what.lower() in err["message"].lower(), (kind, err["message"])
    assert not Channel.objects.all_orgs().exists() and not ScrapeTarget.objects.all_orgs().exists()


def test_public_addresses_pass_and_embedded_public_v4_is_not_refused() -> None:
    for ip in ["8.8.8.8", "2606:4700::1111", "2002:808:808::1", "64:ff9b::808:808"]:
        assert outbound.address_problem(ipaddress.ip_address(ip)) is None, ip


@pytest.mark.parametrize("kind", KINDS)
def test_allow_list_never_opens_metadata(api_alice: APIClient, settings: Any, kind: str) -> None:
    settings.OUTBOUND_URL_ALLOW = ["0.0.0.0/0", "::/0", "metadata.google.internal"]
    for host_port in ["169.254.169.254:80", "[fd00:ec2::254]:80", "metadata.google.internal:80"]:
        r, field = save(api_alice, kind, host_port)
        assert r.status_code == 400 and r.json()["error"]["details"]["field"] == field, r.content
        assert "metadata" in r.json()["error"]["message"]


def _platform_services(settings: Any) -> list[tuple[str, str]]:
    """(host:port, what) of a platform service configured on loopback, one per kind of setting."""
    ports = {name: procs.free_port() for name in ("ds", "am", "broker", "relay", "portal", "redis")}
    Datasource.objects.create(name="tenant-db-prom", url=f"http://127.0.0.1:{ports['ds']}")
    settings.ALERTMANAGER_URL = f"http://127.0.0.1:{ports['am']}"
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{ports['broker']}/0"
    settings.REDIS_URL = f"redis://127.0.0.1:{ports['redis']}/3"
    settings.METRICS_IN_RELAY_BASE_URL = f"http://127.0.0.1:{ports['relay']}"
    settings.PORTAL_BASE_URL = f"http://127.0.0.1:{ports['portal']}"
    found = [(f"127.0.0.1:{ports['ds']}", "datasource"), (f"localhost:{ports['ds']}", "datasource"),
             (f"127.0.0.1:{ports['am']}", "Alertmanager"), (f"127.0.0.1:{ports['broker']}", "broker"),
             (f"127.0.0.1:{ports['redis']}", "Redis"), (f"127.0.0.1:{ports['relay']}", "relay"),
             (f"127.0.0.1:{ports['portal']}", "portal")]
    db = settings.DATABASES["default"]
    if db.get("HOST"):  # PostgreSQL in CI
        found.append((f"{db['HOST']}:{db.get('PORT') or 5432}", "database"))
    return found


@pytest.mark.parametrize("kind", KINDS)
def test_platform_services_refused_even_when_allow_listed(api_alice: APIClient, settings: Any, kind: str) -> None:
    settings.OUTBOUND_URL_ALLOW = ["127.0.0.0/8"]  # a development allow-list: loopback receivers are fine
    for host_port, what in _platform_services(settings):
        r, field = save(api_alice, kind, host_port)
        assert r.status_code == 400, (host_port, r.content)
        err = r.json()["error"]
        assert err["details"]["field"] == field and "platform's own" in err["message"], err
        assert what in err["message"], (what, err["message"])
    # A loopback port that is no platform service is accepted under that allow-list.
    r, _ = save(api_alice, kind, f"127.0.0.1:{procs.free_port()}")
    assert r.status_code == 201, r.content


@pytest.fixture
def prometheus(settings: Any) -> Iterator[procs.Proc]:
    p = procs.start_prometheus()
    settings.PROMETHEUS_URL = p.url
    yield p
    p.cleanup()


def _stored_webhook(org: Organization, url: str, name: str) -> Channel:
    """A channel written past the API (as if saved before the guard, or before a setting changed)."""
    ch = Channel(org=org, name=name, kind=ChannelKind.WEBHOOK, config={})
    channel_secrets.write(ch, {"url": url})
    ch.save()
    return ch


def test_notification_to_the_platforms_prometheus_is_refused(api_alice: APIClient, org_a: Organization,
                                                             prometheus: procs.Proc, settings: Any) -> None:
    settings.OUTBOUND_URL_ALLOW = ["127.0.0.0/8"]
    query_url = f"{prometheus.url}/api/v1/query?query=up"
    for kind in ("slack", "teams", "webhook"):
        body, field = channel_body(kind, query_url)
        r = api_alice.post("/api/v1/alerts/channels/", body, format="json")
        assert r.status_code == 400 and r.json()["error"]["details"]["field"] == field, r.content
        assert "Prometheus" in r.json()["error"]["message"]
    # Stored past the API: the send-time check refuses it and nothing of Prometheus comes back.
    for i, path in enumerate(("/api/v1/query?query=up", "/-/quit")):
        ch = _stored_webhook(org_a, prometheus.url + path, f"stored-{i}")
        r = api_alice.post(f"/api/v1/alerts/channels/{ch.pk}/test/")
        assert r.status_code == 200, r.content
        result = r.json()
        assert result["ok"] is False and result["status"] is None
        assert result["detail"].startswith("refused by the outbound guard") and "Prometheus" in result["detail"]
        assert '"resultType"' not in r.content.decode() and "__name__" not in r.content.decode()
    assert httpx.get(prometheus.url + "/-/ready", timeout=5).status_code == 200  # /-/quit never reached it


def test_test_send_reports_status_never_the_body(api_alice: APIClient,
                                                receiver_factory: Callable[..., Receiver]) -> None:
    ok = receiver_factory(status=200)
    broken = receiver_factory(status=500)
    for kind in ("slack", "teams", "webhook"):
        for rcv, expected_ok, detail in ((ok, True, "HTTP 200"), (broken, False, "HTTP 500")):
            body, _ = channel_body(kind, f"{rcv.url}/in")
            cid = api_alice.post("/api/v1/alerts/channels/", {**body, "name": f"{kind}-{rcv.port}"},
                                 format="json").json()["id"]
            r = api_alice.post(f"/api/v1/alerts/channels/{cid}/test/")
            assert r.status_code == 200 and r.json()["ok"] is expected_ok, r.content
            assert r.json()["detail"] == detail and SECRET_BODY not in r.content.decode()
    assert len(ok.requests) == 3 and len(broken.requests) == 3


def test_redirects_are_not_followed(api_alice: APIClient,
                                    receiver_factory: Callable[..., Receiver]) -> None:
    target = receiver_factory()
    hop = receiver_factory(status=302, headers={"Location": f"{target.url}/landed"})
    body, _ = channel_body("webhook", f"{hop.url}/in")
    cid = api_alice.post("/api/v1/alerts/channels/", body, format="json").json()["id"]
    r = api_alice.post(f"/api/v1/alerts/channels/{cid}/test/")
    assert r.json() == {"ok": False, "status": 302, "detail": "HTTP 302 (redirects are not followed)"}
    assert len(hop.requests) == 1 and target.requests == []


def test_send_time_recheck_refuses_a_name_that_now_resolves_internally(
        api_alice: APIClient, org_a: Organization, fake_dns: FakeDNS,
        receiver_factory: Callable[..., Receiver]) -> None:
    rcv = receiver_factory(allow=False)
    # Public when saved, loopback (where the receiver listens; not allow-listed) when sent.
    fake_dns.answers["hooks.rebind.test"] = ["93.184.215.14", "127.0.0.1"]
    body, _ = channel_body("webhook", f"http://hooks.rebind.test:{rcv.port}/in")
    r = api_alice.post("/api/v1/alerts/channels/", body, format="json")
    assert r.status_code == 201, r.content
    cid = r.json()["id"]
    r = api_alice.post(f"/api/v1/alerts/channels/{cid}/test/")
    assert r.json()["ok"] is False and r.json()["detail"].startswith("refused by the outbound guard")
    assert "127.0.0.1" in r.json()["detail"]
    # The same through the Alertmanager webhook relay: refused, 502 so Alertmanager retries, no body.
    payload = {"status": "firing", "alerts": [{"status": "firing", "labels": {"alertname": "X", "org_id": "acme"}}]}
    hook = Client().post(f"/hooks/alertmanager/{org_a.pk}/ch{cid}/", json.dumps(payload),
                         content_type="application/json",
                         HTTP_AUTHORIZATION=f"Bearer {render.hook_token(org_a.pk, f'ch{cid}')}")
    assert hook.status_code == 502 and "refused by the outbound guard" in hook.json()["error"]["message"]
    assert rcv.requests == []


def test_one_resolution_and_the_connection_goes_to_the_checked_address(
        fake_dns: FakeDNS, receiver_factory: Callable[..., Receiver], settings: Any) -> None:
    rcv = receiver_factory()
    # First answer: the (allow-listed) receiver; any later lookup would say 10.9.9.9. The name exists in no
    # real DNS, so a request that arrives was sent to the first checked address, not resolved again.
    fake_dns.answers["pin.rebind.test"] = ["127.0.0.1", "10.9.9.9"]
    got = outbound.post(f"http://pin.rebind.test:{rcv.port}/in", b"{}", {"Content-Type": "application/json"}, 5.0)
    assert got.ok and got.detail == "HTTP 200", got
    assert fake_dns.calls["pin.rebind.test"] == 1
    assert rcv.requests[0]["headers"]["Host"] == f"pin.rebind.test:{rcv.port}"
    # The next send resolves again and is checked again: 10.9.9.9 is private and not allow-listed.
    again = outbound.post(f"http://pin.rebind.test:{rcv.port}/in", b"{}", {}, 5.0)
    assert not again.ok and "10.9.9.9" in again.detail and len(rcv.requests) == 1


def test_scrape_relay_pins_the_checked_address(org_a: Organization, fake_dns: FakeDNS,
                                               receiver_factory: Callable[..., Receiver]) -> None:
    exporter = receiver_factory(body="demo_up 1\n")
    fake_dns.answers["exporter.rebind.test"] = ["127.0.0.1"]
    target = ScrapeTarget.objects.create(org=org_a, name="e", address=f"exporter.rebind.test:{exporter.port}",
                                         auth_type=AuthType.BEARER)
    target.bearer_token = "t0k"
    target.save()
    r = Client().get(relay.relay_path(target))
    assert r.status_code == 200 and r.content == b"demo_up 1\n"
    assert exporter.requests[0]["headers"]["Host"] == f"exporter.rebind.test:{exporter.port}"
    assert exporter.requests[0]["headers"]["Authorization"] == "Bearer t0k"
    # The name now answers with the cloud metadata address: the relay refuses, nothing is fetched.
    fake_dns.answers["exporter.rebind.test"] = ["169.254.169.254"]
    r = Client().get(relay.relay_path(target))
    assert r.status_code == 403 and len(exporter.requests) == 1


@pytest.mark.parametrize("name", ["Host", "X-Scope-OrgID", "x-scope-orgid", "Content-Length", "Transfer-Encoding",
                                  "Connection", "Cookie", "X-Forwarded-For", "Forwarded", "Proxy-Authorization",
                                  "X-Portal-Signature", "Bad Header", "X-Evil\r\nHost"])
def test_forbidden_webhook_header_names_refused(api_alice: APIClient, name: str) -> None:
    body, _ = channel_body("webhook", "http://hooks.example.test/in", headers={name: "v"})
    r = api_alice.post("/api/v1/alerts/channels/", body, format="json")
    assert r.status_code == 400 and r.json()["error"]["details"]["field"] == "secrets.headers", r.content


def test_receiver_headers_are_delivered(api_alice: APIClient,
                                        receiver_factory: Callable[..., Receiver]) -> None:
    rcv = receiver_factory()
    body, _ = channel_body("webhook", f"{rcv.url}/in", headers={"Authorization": "Bearer abc", "X-Api-Token": "t"})
    r = api_alice.post("/api/v1/alerts/channels/", body, format="json")
    assert r.status_code == 201, r.content
    assert api_alice.post(f"/api/v1/alerts/channels/{r.json()['id']}/test/").json()["ok"] is True
    sent = rcv.requests[0]["headers"]
    assert sent["Authorization"] == "Bearer abc" and sent["X-Api-Token"] == "t"
    assert sent["Host"] == f"127.0.0.1:{rcv.port}"
