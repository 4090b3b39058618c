"""API tokens and ingest tokens: shown once, stored hashed, scoped, expiring, revocable."""

from datetime import timedelta

from django.utils import timezone
from rest_framework.test import APIClient

from portal.tenancy.models import ApiToken, AuditEntry, IngestToken


def bearer(secret):
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return c


def test_create_token_via_api_secret_shown_once_and_hashed(api_bob, org_a, bob):
    r = api_bob.post("/api/v1/tokens/", {"name": "grafana", "scope": "read"}, format="json")
    assert r.status_code == 201, r.content
    secret = r.json()["token"]
    tok = ApiToken.objects.for_org(org_a).get(pk=r.json()["id"])
    assert tok.secret_hash != secret and secret not in tok.secret_hash
    detail = api_bob.get(f"/api/v1/tokens/{tok.id}/").json()
    assert "token" not in detail and detail["name"] == "grafana" and detail["scope"] == "read"
    assert bearer(secret).get("/api/v1/org/").json()["slug"] == "acme"
    tok.refresh_from_db()
    assert tok.last_used_at is not None
    assert AuditEntry.objects.for_org(org_a).filter(object_type="apitoken", action="create").exists()


def test_read_token_cannot_write(org_a, alice):
    from tests.conftest import token_client

    reader = token_client(org_a, alice, "read")
    r = reader.post("/api/v1/members/", {"email": "x@acme.example", "role": "viewer"}, format="json")
    assert r.status_code == 403 and "read-only" in r.json()["error"]["message"]


def test_expired_and_revoked_tokens_answer_401_with_reason(api_alice, org_a, alice):
    r = api_alice.post("/api/v1/tokens/", {"name": "short", "scope": "read",
                                           "expires_at": (timezone.now() + timedelta(hours=1)).isoformat()},
                       format="json")
    secret, tid = r.json()["token"], r.json()["id"]
    assert bearer(secret).get("/api/v1/org/").status_code == 200
    ApiToken.objects.for_org(org_a).filter(pk=tid).update(expires_at=timezone.now() - timedelta(seconds=1))
    r = bearer(secret).get("/api/v1/org/")
    assert r.status_code == 401 and r.json()["error"]["message"] == "This token has expired."

    r = api_alice.post("/api/v1/tokens/", {"name": "doomed"}, format="json")
    secret, tid = r.json()["token"], r.json()["id"]
    assert api_alice.delete(f"/api/v1/tokens/{tid}/").status_code == 204
    r = bearer(secret).get("/api/v1/org/")
    assert r.status_code == 401 and r.json()["error"]["message"] == "This token has been revoked."


def test_wrong_token_gives_no_hint(db):
    for secret in ("pt_000000000000_nope", "garbage", "pi_abc_def"):
        r = bearer(secret).get("/api/v1/org/")
        assert r.status_code == 401
        assert r.json()["error"]["message"] == "Invalid or missing token."
    assert APIClient().get("/api/v1/org/").status_code == 401


def test_past_expiry_refused(api_alice):
    r = api_alice.post("/api/v1/tokens/", {"name": "x", "expires_at": "2001-01-01T00:00:00Z"}, format="json")
    assert r.status_code == 400 and "future" in r.json()["error"]["message"]


def test_ingest_tokens_are_write_only_and_admin_managed(api_alice, api_carol, org_a, ingest_a):
    assert api_carol.post("/api/v1/ingest-tokens/", {"name": "svc"}, format="json").status_code == 403
    r = api_alice.post("/api/v1/ingest-tokens/", {"name": "svc"}, format="json")
    assert r.status_code == 201 and r.json()["token"].startswith("pi_")
    # An ingest token is not an API credential.
    assert bearer(r.json()["token"]).get("/api/v1/org/").status_code == 401
    tok = IngestToken.objects.for_org(org_a).get(pk=r.json()["id"])
    assert api_alice.delete(f"/api/v1/ingest-tokens/{tok.id}/").status_code == 204
    tok.refresh_from_db()
    assert tok.revoked_at is not None


def test_tokens_of_other_org_are_404(api_alice, api_charlie, org_b):
    theirs = api_charlie.post("/api/v1/tokens/", {"name": "b"}, format="json").json()["id"]
    assert api_alice.get(f"/api/v1/tokens/{theirs}/").status_code == 404
    assert api_alice.delete(f"/api/v1/tokens/{theirs}/").status_code == 404
    assert ApiToken.objects.for_org(org_b).get(pk=theirs).revoked_at is None
    ingest = api_charlie.post("/api/v1/ingest-tokens/", {"name": "b"}, format="json").json()["id"]
    assert api_alice.delete(f"/api/v1/ingest-tokens/{ingest}/").status_code == 404


def test_token_ui_create_shows_secret_once_and_revokes(web_alice, org_a):
    r = web_alice.post("/o/acme/settings/tokens/", {"op": "create", "name": "ui", "scope": "write"})
    assert r.status_code == 302
    page = web_alice.get("/o/acme/settings/tokens/").content.decode()
    tok = ApiToken.objects.for_org(org_a).get(name="ui")
    assert f"pt_{tok.lookup}_" in page and 'id="new-secret"' in page
    assert 'id="new-secret"' not in web_alice.get("/o/acme/settings/tokens/").content.decode()
    web_alice.post("/o/acme/settings/tokens/", {"op": "create_ingest", "name": "svc"})
    assert IngestToken.objects.for_org(org_a).filter(name="svc").exists()
    web_alice.post("/o/acme/settings/tokens/", {"op": "revoke", "id": tok.id})
    tok.refresh_from_db()
    assert tok.revoked_at is not None


def test_removed_member_loses_token(api_alice, org_a, bob):
    from portal.tenancy import services
    from portal.tenancy.models import Membership
    from tests.conftest import token_client

    client = token_client(org_a, bob, "read")
    assert client.get("/api/v1/org/").status_code == 200
    services.remove_member(Membership.objects.for_org(org_a).get(user=bob))
    assert client.get("/api/v1/org/").status_code == 401
