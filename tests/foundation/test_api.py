"""REST API conventions: one error shape, pagination, OpenAPI schema, bad input."""

import json

from rest_framework.test import APIClient

from portal.tenancy.models import Membership


def assert_error_shape(r, status):
    assert r.status_code == status, r.content
    body = r.json()
    assert set(body) == {"error"}
    assert body["error"]["status"] == status and body["error"]["code"] and body["error"]["message"]


def test_error_shape_everywhere_under_api(api_alice, db):
    assert_error_shape(api_alice.get("/api/v1/no-such-endpoint/"), 404)
    assert_error_shape(api_alice.get("/api/v1/members/999999/"), 404)
    assert_error_shape(APIClient().get("/api/v1/members/"), 401)
    assert_error_shape(api_alice.put("/api/v1/org/", {}, format="json"), 405)
    r = api_alice.post("/api/v1/members/", data="{not json", content_type="application/json")
    assert_error_shape(r, 400)
    assert "JSON" in r.json()["error"]["message"]
    r = api_alice.post("/api/v1/members/", {"email": "not-an-email", "role": "viewer"}, format="json")
    assert_error_shape(r, 400)
    assert r.json()["error"]["details"]["email"]


def test_malformed_json_writes_nothing(api_alice, org_a):
    before = Membership.objects.for_org(org_a).count()
    api_alice.post("/api/v1/members/", data='{"email": "a@acme.example", "role": ', content_type="application/json")
    api_alice.post("/api/v1/members/", {"email": "a@acme.example", "role": "owner"}, format="json")
    assert Membership.objects.for_org(org_a).count() == before


def test_pagination(api_alice, org_a):
    from portal.tenancy import services

    for i in range(7):
        services.add_member(org_a, f"m{i}@acme.example", "viewer")
    page = api_alice.get("/api/v1/members/", {"page_size": 3}).json()
    assert page["count"] == 8 and len(page["results"]) == 3 and page["next"]
    assert_error_shape(api_alice.get("/api/v1/members/", {"page": 99}), 404)


def test_schema_and_docs(client, db):
    r = client.get("/api/schema/?format=json")
    schema = json.loads(r.content)
    assert schema["openapi"].startswith("3.")
    for path in ("/api/v1/members/", "/api/v1/tokens/", "/api/v1/audit/", "/api/v1/org/"):
        assert path in schema["paths"], path
    docs = client.get("/api/docs/").content.decode()
    assert "swagger" in docs.lower()
    assert "cdn" not in docs.lower() and "https://" not in docs


def test_django_500_under_api_is_json(api_alice, settings, monkeypatch):
    from portal.tenancy import api

    def boom(*a, **k):
        raise RuntimeError("boom")

    monkeypatch.setattr(api.CurrentOrgView, "get", boom)
    client = api_alice
    client.raise_request_exception = False
    assert_error_shape(client.get("/api/v1/org/"), 500)
