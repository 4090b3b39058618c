"""The audit log: actor, org, action, object, change summary, IP, time; admins see their org, staff all."""

from portal.tenancy.models import AuditEntry


def test_changes_are_recorded_with_actor_ip_and_summary(api_alice, org_a, alice):
    api_alice.post("/api/v1/members/", {"email": "dave@acme.example", "role": "viewer"}, format="json",
                   REMOTE_ADDR="192.0.2.7")
    e = AuditEntry.objects.for_org(org_a).filter(object_type="membership", action="create").latest("id")
    assert e.actor == alice and e.ip == "192.0.2.7" and e.changes == {"email": "dave@acme.example", "role": "viewer"}
    assert e.created_at is not None and e.org == org_a
    api_alice.patch("/api/v1/org/", {"name": "Acme Inc"}, format="json")
    e = AuditEntry.objects.for_org(org_a).filter(object_type="organization", action="update").latest("id")
    assert e.changes["name"] == {"from": "Acme Corp", "to": "Acme Inc"}


def test_secrets_never_reach_the_audit_log(api_alice, org_a):
    secret = api_alice.post("/api/v1/tokens/", {"name": "t"}, format="json").json()["token"]
    for e in AuditEntry.objects.for_org(org_a):
        assert secret not in str(e.changes)


def test_admin_sees_own_org_only_with_filters(api_alice, api_charlie, org_a, org_b):
    api_charlie.post("/api/v1/members/", {"email": "x@globex.example", "role": "viewer"}, format="json")
    api_alice.post("/api/v1/members/", {"email": "y@acme.example", "role": "viewer"}, format="json")
    rows = api_alice.get("/api/v1/audit/").json()["results"]
    assert rows and all(r["org"] == "acme" for r in rows)
    assert not any("globex" in r["object_repr"] for r in rows)
    only = api_alice.get("/api/v1/audit/", {"object_type": "membership", "action": "create"}).json()["results"]
    assert only and all(r["object_type"] == "membership" and r["action"] == "create" for r in only)
    bad = api_alice.get("/api/v1/audit/", {"since": "yesterday"})
    assert bad.status_code == 400 and "ISO 8601" in bad.json()["error"]["message"]
    globex_entry = AuditEntry.objects.for_org(org_b).first()
    assert api_alice.get(f"/api/v1/audit/{globex_entry.id}/").status_code == 404


def test_non_admins_cannot_read_audit(api_bob, api_carol):
    assert api_bob.get("/api/v1/audit/").status_code == 403
    assert api_carol.get("/api/v1/audit/").status_code == 403


def test_staff_see_every_org(operator, org_a, org_b, api_alice, api_charlie):
    from rest_framework.test import APIClient

    c = APIClient()
    c.force_login(operator)
    orgs = {r["org"] for r in c.get("/api/v1/platform/audit/").json()["results"]}
    assert {"acme", "globex"} <= orgs
    assert {r["org"] for r in c.get("/api/v1/platform/audit/", {"org": "acme"}).json()["results"]} == {"acme"}
    assert api_alice.get("/api/v1/platform/audit/").status_code == 403


def test_audit_pages(web_alice, client, operator, org_a, org_b):
    page = web_alice.get("/o/acme/settings/audit/?object_type=organization").content.decode()
    assert "organization" in page and "acme" in page
    assert web_alice.get("/platform/audit/").status_code == 403
    client.force_login(operator)
    page = client.get("/platform/audit/").content.decode()
    assert "globex" in page and "acme" in page
