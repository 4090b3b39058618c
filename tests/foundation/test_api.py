"""REST API conventions: one error shape, pagination, OpenAPI schema, bad input."""

import json
from html.parser import HTMLParser

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
    r = api_alice.post("/api/v1/members/", data='{"email": "a@acme.example", "role": ',
                       content_type="application/json")
    assert_error_shape(r, 400)
    assert_error_shape(api_alice.post("/api/v1/members/", {"email": "a@acme.example", "role": "owner"},
                                      format="json"), 400)
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
    docs = client.get("/api/docs/")
    assert docs.status_code == 200 and "swagger" in docs.content.decode().lower()
    # Only the assets the page loads are checked: the page's random CSP nonce may spell anything.
    assets = asset_urls(docs.content.decode())
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets["script"]), assets
    assert any(a.endswith("swagger-ui.css") for a in assets["link"]), assets
    external = [a for kind in assets.values() for a in kind if not a.startswith("/static/")]
    assert not external, f"the API docs load assets from elsewhere than /static/: {external}"


def asset_urls(html: str) -> dict[str, list[str]]:
    """The src of <script> and <img>, and the href of <link>, in the order the page names them."""
    found: dict[str, list[str]] = {"script": [], "link": [], "img": []}

    class Assets(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            attr = "href" if tag == "link" else "src"
            value = dict(attrs).get(attr)
            if tag in found and value:
                found[tag].append(value)

    Assets().feed(html)
    return found


def test_django_500_under_api_is_json(api_alice, settings, monkeypatch):
    from portal.tenancy import api

    def boom(*a, **k):
        raise RuntimeError("boom")

    monkeypatch.setattr(api.CurrentOrgView, "get", boom)
    client = api_alice
    client.raise_request_exception = False
    assert_error_shape(client.get("/api/v1/org/"), 500)
