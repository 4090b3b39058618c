"""Browser auth: login, logout, password change and reset, CSRF, failed-login throttling."""

import re

import pytest
from django.core import mail
from django.test import Client

from tests.conftest import PASSWORD


def login(client, username, password, ip="10.0.0.1"):
    return client.post("/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_login_logout(client, alice, org_a):
    assert client.get("/o/acme/").status_code == 302
    r = login(client, "alice@acme.example", PASSWORD)
    assert r.status_code == 302
    assert client.get("/o/acme/").status_code == 200
    client.post("/accounts/logout/")
    r = client.get("/o/acme/")
    assert r.status_code == 302 and r["Location"].startswith("/accounts/login/")


def test_wrong_credentials_give_one_message(client, alice):
    r1 = login(client, "alice@acme.example", "wrong")
    r2 = login(client, "nobody@acme.example", "wrong")
    assert r1.status_code == r2.status_code == 200
    msg = "Please enter a correct username and password"
    assert msg in r1.content.decode() and msg in r2.content.decode()


def test_failed_logins_throttled_per_account_without_locking_others(client, alice, carol, settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT = 3
    for _ in range(3):
        login(client, "alice@acme.example", "wrong", ip="10.0.0.5")
    r = login(Client(), "alice@acme.example", PASSWORD, ip="10.0.0.9")
    assert "Too many failed logins for this account" in r.content.decode()
    # Another account, from the attacker's own address, still logs in.
    assert login(Client(), "carol@acme.example", PASSWORD, ip="10.0.0.5").status_code == 302


def test_failed_logins_throttled_per_ip(client, alice, carol, settings):
    settings.LOGIN_FAILURES_PER_IP = 4
    for i in range(4):
        login(client, f"ghost{i}@acme.example", "wrong", ip="10.9.9.9")
    r = login(Client(), "carol@acme.example", PASSWORD, ip="10.9.9.9")
    assert "Too many failed logins from your network address" in r.content.decode()
    assert login(Client(), "carol@acme.example", PASSWORD, ip="10.1.1.1").status_code == 302


def test_password_change(client, alice):
    client.force_login(alice)
    r = client.post("/accounts/password/change/", {"old_password": PASSWORD, "new_password1": "N3w-passphrase-x",
                                                    "new_password2": "N3w-passphrase-x"})
    assert r.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("N3w-passphrase-x")


def test_password_reset_mail(client, alice, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    r = client.post("/accounts/password/reset/", {"email": "alice@acme.example"})
    assert r.status_code == 302 and len(mail.outbox) == 1
    link = re.search(r"http://testserver(/accounts/reset/\S+)", mail.outbox[0].body).group(1)
    r = client.get(link, follow=True)
    assert r.status_code == 200
    r = client.post(r.redirect_chain[-1][0], {"new_password1": "Res3t-passphrase", "new_password2": "Res3t-passphrase"})
    assert r.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("Res3t-passphrase")
    # Unknown addresses get the same answer and no mail.
    r = client.post("/accounts/password/reset/", {"email": "nobody@x.example"})
    assert r.status_code == 302 and len(mail.outbox) == 1


@pytest.mark.parametrize("url,data", [
    ("/accounts/login/", {"username": "alice@acme.example", "password": PASSWORD}),
    ("/o/acme/settings/members/", {"op": "add", "email": "x@acme.example", "role": "viewer"}),
    ("/o/acme/settings/tokens/", {"op": "create", "name": "t", "scope": "read"}),
    ("/accounts/switch-org/", {"org": "acme"}),
    ("/accounts/logout/", {}),
])
def test_every_form_needs_csrf(url, data, alice, org_a):
    c = Client(enforce_csrf_checks=True)
    c.force_login(alice)
    r = c.post(url, data)
    assert r.status_code == 403


def test_forms_render_csrf_token(web_alice):
    for url in ("/o/acme/settings/members/", "/o/acme/settings/tokens/", "/accounts/password/change/"):
        assert 'name="csrfmiddlewaretoken"' in web_alice.get(url).content.decode()
    assert 'name="csrfmiddlewaretoken"' in Client().get("/accounts/login/").content.decode()
