"""Organizations and people: admins manage members and roles in API and UI; the last admin stays."""

import pytest

from portal.tenancy.models import AuditEntry, Membership


def test_admin_adds_changes_and_removes_members_via_api(api_alice, org_a, alice):
    r = api_alice.post("/api/v1/members/", {"email": "dave@acme.example", "role": "viewer"}, format="json")
    assert r.status_code == 201, r.content
    mid = r.json()["id"]
    assert r.json()["email"] == "dave@acme.example"
    r = api_alice.patch(f"/api/v1/members/{mid}/", {"role": "editor"}, format="json")
    assert r.status_code == 200 and r.json()["role"] == "editor"
    listing = api_alice.get("/api/v1/members/").json()
    assert {m["email"] for m in listing["results"]} == {"alice@acme.example", "dave@acme.example"}
    assert api_alice.delete(f"/api/v1/members/{mid}/").status_code == 204
    assert not Membership.objects.for_org(org_a).filter(pk=mid).exists()
    actions = list(AuditEntry.objects.for_org(org_a).filter(object_type="membership").values_list("action", flat=True))
    assert sorted(actions) == ["create", "create", "delete", "update"]


def test_last_admin_cannot_be_removed_or_demoted(api_alice, org_a, alice):
    me = Membership.objects.for_org(org_a).get(user=alice)
    r = api_alice.delete(f"/api/v1/members/{me.id}/")
    assert r.status_code == 400 and r.json()["error"]["code"] == "last_admin"
    r = api_alice.patch(f"/api/v1/members/{me.id}/", {"role": "viewer"}, format="json")
    assert r.status_code == 400 and "last admin" in r.json()["error"]["message"]
    assert Membership.objects.for_org(org_a).get(pk=me.id).role == "admin"


def test_viewer_and_editor_cannot_manage_members(api_bob, api_carol, org_a):
    for client in (api_bob, api_carol):
        r = client.post("/api/v1/members/", {"email": "x@acme.example", "role": "viewer"}, format="json")
        assert r.status_code == 403
        assert r.json()["error"]["code"] == "permission_denied"
    assert api_bob.get("/api/v1/members/").status_code == 200


def test_other_orgs_member_is_404(api_alice, api_charlie, charlie, org_b):
    theirs = Membership.objects.for_org(org_b).get(user=charlie)
    assert api_alice.get(f"/api/v1/members/{theirs.id}/").status_code == 404
    assert api_alice.patch(f"/api/v1/members/{theirs.id}/", {"role": "viewer"}, format="json").status_code == 404
    assert api_alice.delete(f"/api/v1/members/{theirs.id}/").status_code == 404
    assert Membership.objects.for_org(org_b).filter(pk=theirs.id).exists()


def test_members_page_ui(web_alice, org_a, alice):
    r = web_alice.post("/o/acme/settings/members/", {"op": "add", "email": "erin@acme.example", "role": "editor"})
    assert r.status_code == 302
    m = Membership.objects.for_org(org_a).get(user__email="erin@acme.example")
    page = web_alice.get("/o/acme/settings/members/").content.decode()
    assert "erin@acme.example" in page and 'name="csrfmiddlewaretoken"' in page
    web_alice.post("/o/acme/settings/members/", {"op": "role", "id": m.id, "role": "viewer"})
    assert Membership.objects.for_org(org_a).get(pk=m.id).role == "viewer"
    me = Membership.objects.for_org(org_a).get(user=alice)
    r = web_alice.post("/o/acme/settings/members/", {"op": "remove", "id": me.id}, follow=True)
    assert "last admin" in r.content.decode()
    web_alice.post("/o/acme/settings/members/", {"op": "remove", "id": m.id})
    assert not Membership.objects.for_org(org_a).filter(pk=m.id).exists()


def test_viewer_write_in_ui_is_403(client, bob, org_a):
    client.force_login(bob)
    assert client.get("/o/acme/settings/members/").status_code == 200
    r = client.post("/o/acme/settings/members/", {"op": "add", "email": "z@acme.example", "role": "admin"})
    assert r.status_code == 403
    assert not Membership.objects.for_org(org_a).filter(user__email="z@acme.example").exists()


def test_org_switcher_lists_only_own_orgs_and_switches(client, alice, org_a, org_b, org_c):
    from portal.tenancy import services

    services.add_member(org_c, "alice@acme.example", "viewer")
    client.force_login(alice)
    page = client.get("/o/acme/").content.decode()
    assert 'value="acme"' in page and 'value="initech"' in page and 'value="globex"' not in page
    r = client.post("/accounts/switch-org/", {"org": "initech"})
    assert r.status_code == 302 and r["Location"] == "/o/initech/"
    assert client.get("/").headers["Location"] == "/o/initech/"
    assert client.post("/accounts/switch-org/", {"org": "globex"}).status_code == 404


def test_staff_see_every_org(client, operator, org_a, org_b):
    client.force_login(operator)
    assert client.get("/o/acme/").status_code == 200
    assert client.get("/o/globex/settings/members/").status_code == 200
    page = client.get("/o/acme/").content.decode()
    assert 'value="globex"' in page


@pytest.mark.django_db
def test_unknown_org_slug_is_404(web_alice):
    assert web_alice.get("/o/no-such-org/").status_code == 404
    assert web_alice.get("/o/globex/").status_code == 404
