"""Transport: secure cookies and HSTS when configured, proxy headers believed only from TRUSTED_PROXIES
(per-IP login throttling counts the real client), password reset throttled per address and per IP, and
/metrics naming no organization (and closed without its token when METRICS_TOKEN is set)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from portal.tenancy.models import Organization
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
PROXY = "10.20.0.7"


def login(client: Client, username: str, password: str, peer: str, forwarded: str | None = None) -> Any:
    extra: dict[str, Any] = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    return client.post("/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=peer, **extra)


@pytest.fixture
def behind_proxy(settings: Any) -> Any:
    settings.TRUSTED_PROXIES = ["10.20.0.0/16", "2001:db8::/32"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.LOGIN_FAILURES_PER_IP = 3
    settings.LOGIN_FAILURES_PER_ACCOUNT = 100
    return settings


def test_session_and_csrf_cookies_are_secure_when_configured(client: Client, alice: Any, settings: Any) -> None:
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    page = Client(enforce_csrf_checks=True).get("/accounts/login/", secure=True)
    assert page.cookies["csrftoken"]["secure"] is True
    resp = client.post("/accounts/login/", {"username": "alice@acme.example", "password": PASSWORD}, secure=True)
    assert resp.status_code == 302
    assert resp.cookies["sessionid"]["secure"] is True and resp.cookies["sessionid"]["httponly"] is True


def test_hsts_on_https_and_only_trusted_proxies_may_say_https(client: Client, behind_proxy: Any) -> None:
    behind_proxy.SECURE_HSTS_SECONDS = 31536000
    behind_proxy.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    direct = client.get("/healthz", secure=True)
    assert direct["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    via_proxy = client.get("/healthz", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_PROTO="https")
    assert via_proxy["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    # Any other peer claiming HTTPS over plain HTTP is not believed (no HSTS, no "secure" request).
    spoofed = client.get("/healthz", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_PROTO="https")
    assert "Strict-Transport-Security" not in spoofed
    assert "Strict-Transport-Security" not in client.get("/healthz")


def test_login_throttle_counts_the_client_behind_a_trusted_proxy(alice: Any, carol: Any, behind_proxy: Any) -> None:
    for i in range(3):
        # The client put its own X-Forwarded-For; the proxy appended the address it saw.
        r = login(Client(), f"ghost{i}@acme.example", "wrong", PROXY, forwarded=f"1.2.3.{i}, 198.51.100.7")
        assert r.status_code == 200
    blocked = login(Client(), "carol@acme.example", PASSWORD, PROXY, forwarded="198.51.100.7")
    assert "Too many failed logins from your network address" in blocked.content.decode()
    # Everyone else behind the same proxy still logs in: the limit is the client's, not the proxy's.
    assert login(Client(), "carol@acme.example", PASSWORD, PROXY, forwarded="198.51.100.8").status_code == 302
    # Proxy chains: trusted hops (IPv6 too) are skipped from the right.
    chained = login(Client(), "carol@acme.example", PASSWORD, "2001:db8::5", forwarded="198.51.100.7, 10.20.3.4")
    assert "Too many failed logins from your network address" in chained.content.decode()


def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(alice: Any, carol: Any, behind_proxy: Any) -> None:
    # A client talking to the portal directly cannot escape the per-IP limit by rotating the header.
    for i in range(3):
        login(Client(), f"ghost{i}@acme.example", "wrong", "203.0.113.9", forwarded=f"198.51.100.{i}")
    r = login(Client(), "carol@acme.example", PASSWORD, "203.0.113.9", forwarded="198.51.100.200")
    assert "Too many failed logins from your network address" in r.content.decode()
    # Nor can it frame another address: that client was never counted.
    assert login(Client(), "carol@acme.example", PASSWORD, "198.51.100.1").status_code == 302


def test_with_no_trusted_proxies_the_peer_is_the_client(alice: Any, carol: Any, settings: Any) -> None:
    settings.LOGIN_FAILURES_PER_IP = 2
    for i in range(2):
        login(Client(), f"ghost{i}@acme.example", "wrong", "10.20.0.7", forwarded=f"198.51.100.{i}")
    r = login(Client(), "carol@acme.example", PASSWORD, "10.20.0.7", forwarded="198.51.100.99")
    assert "Too many failed logins from your network address" in r.content.decode()


def test_password_reset_throttled_per_address(client: Client, alice: Any, settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.PASSWORD_RESETS_PER_EMAIL = 2
    for i in range(2):
        r = Client().post("/accounts/password/reset/", {"email": "alice@acme.example"}, REMOTE_ADDR=f"192.0.2.{i}")
        assert r.status_code == 302
    r = Client().post("/accounts/password/reset/", {"email": "ALICE@acme.example"}, REMOTE_ADDR="192.0.2.50")
    assert r.status_code == 429 and int(r["Retry-After"]) > 0
    assert "Too many password reset requests" in r.content.decode()
    assert len(mail.outbox) == 2
    # An address with no account gets the same answer as one with an account: it reveals nothing.
    for _ in range(2):
        Client().post("/accounts/password/reset/", {"email": "nobody@acme.example"}, REMOTE_ADDR="192.0.2.60")
    r = Client().post("/accounts/password/reset/", {"email": "nobody@acme.example"}, REMOTE_ADDR="192.0.2.61")
    assert r.status_code == 429 and len(mail.outbox) == 2


def test_password_reset_throttled_per_ip(alice: Any, carol: Any, settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.PASSWORD_RESETS_PER_IP = 3
    for i in range(3):
        r = Client().post("/accounts/password/reset/", {"email": f"probe{i}@acme.example"}, REMOTE_ADDR="192.0.2.9")
        assert r.status_code == 302
    r = Client().post("/accounts/password/reset/", {"email": "carol@acme.example"}, REMOTE_ADDR="192.0.2.9")
    assert r.status_code == 429 and len(mail.outbox) == 0
    ok = Client().post("/accounts/password/reset/", {"email": "carol@acme.example"}, REMOTE_ADDR="192.0.2.10")
    assert ok.status_code == 302 and len(mail.outbox) == 1


def test_metrics_name_no_organization(client: Client, org_a: Organization, ingest_a: str, settings: Any) -> None:
    settings.DEBUG = False
    # A rejected ingest request is counted per org: by its database id, never its slug.
    bad = client.generic("POST", "/otlp/v1/metrics", b"{not json", content_type="application/json",
                         HTTP_AUTHORIZATION=f"Bearer {ingest_a}")
    assert bad.status_code == 400
    text = client.get("/metrics").content.decode()
    assert f'portal_ingest_rejections_total{{org="{org_a.pk}",reason="http_400",signal="metrics"}}' in text
    assert "acme" not in text.lower()


def test_metrics_closed_without_its_token_when_one_is_set(client: Client, settings: Any) -> None:
    settings.DEBUG = False
    settings.METRICS_REQUIRE_TOKEN = "m3trics-s3cret"
    resp = client.get("/metrics")
    assert resp.status_code == 401 and resp["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert "METRICS_TOKEN" in resp.content.decode()
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    ok = client.get("/metrics", HTTP_AUTHORIZATION="Bearer m3trics-s3cret")
    assert ok.status_code == 200 and "# TYPE" in ok.content.decode()


def _settings_in_child(**env: str) -> subprocess.CompletedProcess[str]:
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("COV_CORE_")}
    child_env.update(env)
    code = ("import json; from portal import settings as s; print(json.dumps([s.SESSION_COOKIE_SECURE, "
            "s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.TRUSTED_PROXIES, "
            "list(getattr(s, 'SECURE_PROXY_SSL_HEADER', None) or []), s.LOGS_QUERY_TIMEOUT]))")
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=child_env, capture_output=True, text=True,
                          timeout=120)


def test_transport_settings_read_from_the_environment_and_typos_fail_the_start(tmp_path: Path) -> None:
    var = str(tmp_path)
    run = _settings_in_child(PORTAL_VAR_DIR=var, SESSION_COOKIE_SECURE="yes", SECURE_HSTS_SECONDS="63072000",
                             SECURE_HSTS_INCLUDE_SUBDOMAINS="on", TRUSTED_PROXIES="10.0.0.0/8,2001:db8::1",
                             SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto", LOGS_QUERY_TIMEOUT="2.5")
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().splitlines()[-1] == (
        '[true, true, 63072000, true, ["10.0.0.0/8", "2001:db8::1"], ["HTTP_X_FORWARDED_PROTO", "https"], 2.5]')
    for bad in ({"SESSION_COOKIE_SECURE": "ture"}, {"TRUSTED_PROXIES": "10.0.0.0/33"},
                {"SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto"}, {"LOGS_QUERY_TIMEOUT": "0"}):
        run = _settings_in_child(PORTAL_VAR_DIR=var, **bad)
        assert run.returncode != 0 and "ImproperlyConfigured" in run.stderr, (bad, run.stderr[-500:])
