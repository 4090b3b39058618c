"""Security investigation: the portal audits its own logins, failed logins, token use and staff access; an
org admin puts a user's, an address's or an API key's security events (log records and audit entries) on
one timeline, revokes a token from it and exports it; staff do the same across orgs; org admins see every
access by platform staff to their org's data, with the stated reason."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from logs_app.store import get_store
from logs_app.store.records import LogRecord
from portal.tenancy.models import ApiToken, AuditEntry
from tests import procs
from tests.browser.conftest import signed_in
from tests.conftest import PASSWORD, token_client

pytestmark = pytest.mark.django_db
ATTACKER = "203.0.113.66"


def _auth_failure(org: Any, user_id: str, ip: str, key: str, minutes_ago: int, body: str = "") -> LogRecord:
    return LogRecord(org_id=org.pk, time=timezone.now() - timedelta(minutes=minutes_ago),
                     body=body or f"auth_failure: invalid API key for user {user_id}", service="user-org-service",
                     level="warn", user_id=user_id,
                     attributes={"event": "auth_failure", "client.address": ip, "api_key": key})


@pytest.fixture
def security_logs(org_a: Any, org_b: Any) -> Iterator[None]:
    store = get_store()
    store.write_logs([
        _auth_failure(org_a, "17", ATTACKER, "acme-prod", 5),
        _auth_failure(org_a, "17", ATTACKER, "acme-prod", 4),
        _auth_failure(org_a, "18", "198.51.100.2", "acme-dev", 3),
        LogRecord(org_id=org_a.pk, time=timezone.now() - timedelta(minutes=2), body="request served", level="info",
                  user_id="17", attributes={"client.address": ATTACKER}),  # not a security event
        _auth_failure(org_b, "17", ATTACKER, "globex-prod", 2, body="auth_failure at globex: secret detail"),
    ])
    yield
    for org in (org_a, org_b):
        store.delete_older_than(org, timezone.now() + timedelta(days=1))


def _timeline(client: APIClient, subject: str, value: str, path: str = "/api/v1/security/timeline",
              **extra: str) -> Any:
    r = client.get(path, {"subject": subject, "value": value, "start": "now-1h", **extra})
    assert r.status_code == 200, r.content
    return r.json()


def test_logins_and_failed_logins_are_audited_with_the_address(alice: Any, bob: Any) -> None:
    c = Client(REMOTE_ADDR=ATTACKER)
    c.post("/accounts/login/", {"username": bob.email, "password": "wrong"})
    c.post("/accounts/login/", {"username": "nobody@nowhere.example", "password": "wrong"})
    Client(REMOTE_ADDR="192.0.2.10").post("/accounts/login/", {"username": bob.email, "password": PASSWORD})
    rows = {(e.action, e.actor_label, e.ip) for e in AuditEntry.objects.all_orgs().filter(org=None)}
    assert ("login_failed", bob.email, ATTACKER) in rows
    assert ("login_failed", "nobody@nowhere.example", ATTACKER) in rows
    assert ("login", bob.email, "192.0.2.10") in rows
    assert all("wrong" not in str(e.changes) for e in AuditEntry.objects.all_orgs())  # never the password


def test_a_users_timeline_has_log_records_and_account_events(api_alice: APIClient, bob: Any,
                                                              security_logs: None) -> None:
    Client(REMOTE_ADDR=ATTACKER).post("/accounts/login/", {"username": bob.email, "password": "wrong"})
    t = _timeline(api_alice, "user", bob.email)
    assert [(e["source"], e["kind"]) for e in t["events"]][:1] == [("audit", "login_failed")]
    logs = _timeline(api_alice, "user", "17")
    assert [(e["source"], e["kind"], e["ip"]) for e in logs["events"]] == [("log", "auth_failure", ATTACKER)] * 2
    assert all(e["org"] == "acme" for e in logs["events"])  # globex's record for its user 17 is not here


def test_an_address_timeline_is_the_orgs_own_and_staff_see_every_org(api_alice: APIClient, api_charlie: APIClient,
                                                                     operator: Any, org_a: Any, bob: Any,
                                                                     security_logs: None) -> None:
    Client(REMOTE_ADDR=ATTACKER).post("/accounts/login/", {"username": bob.email, "password": "wrong"})
    Client(REMOTE_ADDR=ATTACKER).post("/accounts/login/", {"username": "charlie@globex.example", "password": "x"})
    mine = _timeline(api_alice, "ip", ATTACKER)["events"]
    assert {(e["source"], e["kind"]) for e in mine} == {("log", "auth_failure"), ("audit", "login_failed")}
    assert all("globex" not in str(e) for e in mine)  # neither globex's record nor its member's failed login
    theirs = _timeline(api_charlie, "ip", ATTACKER)["events"]
    assert [e["summary"] for e in theirs if e["source"] == "log"] == [
        "user-org-service: auth_failure at globex: secret detail"]
    # Org admins have no cross-org path; staff do.
    assert api_alice.get("/api/v1/platform/security/timeline", {"subject": "ip", "value": ATTACKER}).status_code == 403
    staff = token_client(org_a, operator)
    every = _timeline(staff, "ip", ATTACKER, path="/api/v1/platform/security/timeline")["events"]
    assert {e["org"] for e in every if e["source"] == "log"} == {"acme", "globex"}
    only = _timeline(staff, "ip", ATTACKER, path="/api/v1/platform/security/timeline", org="globex")["events"]
    assert {e["org"] for e in only if e["source"] == "log"} == {"globex"}


def test_key_timeline_token_use_and_one_click_revoke(api_alice: APIClient, org_a: Any, bob: Any) -> None:
    client = token_client(org_a, bob, "read")
    token = ApiToken.objects.for_org(org_a).get(user=bob)
    for _ in range(3):
        assert client.get("/api/v1/org/", REMOTE_ADDR=ATTACKER).status_code == 200
    client.get("/api/v1/org/", REMOTE_ADDR="192.0.2.99")
    uses = AuditEntry.objects.for_org(org_a).filter(action="token_use", object_id=str(token.pk))
    assert sorted(e.ip for e in uses) == ["192.0.2.99", ATTACKER]  # once per address and hour, not per request
    events = _timeline(api_alice, "key", str(token.pk))["events"]
    assert {e["kind"] for e in events} == {"create", "token_use"}
    assert all(e["token_id"] == token.pk for e in events)
    assert api_alice.delete(f"/api/v1/tokens/{token.pk}/").status_code == 204  # the timeline's revoke button
    assert client.get("/api/v1/org/").status_code == 401
    assert "revoke" in {e["kind"] for e in _timeline(api_alice, "key", str(token.pk))["events"]}


def test_timeline_exports_as_csv(api_alice: APIClient, security_logs: None) -> None:
    r = api_alice.get("/api/v1/security/timeline", {"subject": "ip", "value": ATTACKER, "export": "csv"})
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.content.decode())))
    assert [(row["source"], row["kind"], row["ip"]) for row in rows] == [("log", "auth_failure", ATTACKER)] * 2


def test_only_org_admins_and_bad_input_is_400(api_bob: APIClient, api_alice: APIClient) -> None:
    assert api_bob.get("/api/v1/security/timeline", {"subject": "ip", "value": "1.2.3.4"}).status_code == 403
    assert api_bob.get("/api/v1/security/staff-access").status_code == 403
    bad = api_alice.get("/api/v1/security/timeline", {"subject": "planet", "value": "x"})
    assert bad.status_code == 400 and bad.json()["error"]["details"]["param"] == "subject"
    empty = api_alice.get("/api/v1/security/timeline", {"subject": "user", "value": " "})
    assert empty.status_code == 400 and empty.json()["error"]["details"]["param"] == "value"
    # A value is a value: query syntax in it does not widen the search.
    assert _timeline(api_alice, "user", "17 OR level=info")["events"] == []


def test_org_admins_see_every_staff_access_with_the_reason(api_alice: APIClient, api_charlie: APIClient,
                                                           operator: Any, org_a: Any, settings: Any) -> None:
    staff = token_client(org_a, operator)
    assert staff.get("/api/v1/org/").status_code == 200
    staff.get("/api/v1/org/")  # the same hour: one row
    # A platform-wide PromQL query (its backend is down here: it is audited before it is sent).
    settings.PROMETHEUS_URL = f"http://127.0.0.1:{procs.free_port()}"
    staff.get("/prometheus/api/v1/query", {"query": 'up{org_id="globex"}'}, HTTP_X_PORTAL_CROSS_ORG="incident 42")
    seen = api_alice.get("/api/v1/security/staff-access").json()
    kinds = [(e["kind"], e["actor"]) for e in seen]
    assert kinds.count(("staff_access", operator.email)) == 1
    platform_wide = [e for e in seen if e["kind"] == "cross_org_query"]
    assert len(platform_wide) == 1 and "incident 42" in platform_wide[0]["summary"]
    assert "globex" not in str(platform_wide[0])  # the query text (naming another org) is not shown
    # Globex's admin sees the platform-wide query too (it read their series), but not acme's staff access.
    theirs = api_charlie.get("/api/v1/security/staff-access").json()
    assert [e["kind"] for e in theirs] == ["cross_org_query"]


@pytest.fixture
def admin_page(browser: Any, live_server: Any, alice: Any, bob: Any) -> Iterator[Any]:
    with signed_in(browser, live_server.url, alice.email, PASSWORD) as p:
        yield p


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_investigation_page_revokes_a_key_in_one_click(admin_page: Any, live_server: Any, org_a: Any,
                                                           bob: Any, output_dir: Path) -> None:
    client = token_client(org_a, bob, "read")
    client.get("/api/v1/org/", REMOTE_ADDR=ATTACKER)
    token = ApiToken.objects.for_org(org_a).get(user=bob)
    admin_page.on("dialog", lambda d: d.accept())
    admin_page.goto(f"{live_server.url}/o/acme/security/?subject=key&value={token.pk}&range=24h")
    admin_page.wait_for_function("document.querySelectorAll('#sec-events tbody tr.sec-audit').length >= 2")
    assert "token_use" in admin_page.inner_text("#sec-events") and ATTACKER in admin_page.inner_text("#sec-events")
    assert admin_page.locator("#sec-chart .main-svg").count() > 0
    assert admin_page.locator("#sec-csv").get_attribute("href").endswith("export=csv")
    admin_page.screenshot(path=str(output_dir / "security-investigation-key.png"), full_page=True)
    admin_page.locator("#sec-events button", has_text="Revoke token").first.click()
    admin_page.wait_for_function("document.querySelector('#sec-events').innerText.includes('revoke')")
    token.refresh_from_db()
    assert token.revoked_at is not None
