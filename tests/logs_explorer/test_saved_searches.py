"""Saved log searches (`/api/v1/logs/saved-searches/`): shared within the org, viewers read, editors write;
the query must parse and the window be a duration; names are unique per org; another org's saved search is a
404 for every method, and a list never shows it."""

from __future__ import annotations

from typing import Any

import pytest

from logs_app.saved_searches.models import SavedSearch
from tests.factories import SavedSearchFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/logs/saved-searches/"


def test_editors_save_and_every_member_reads(api_carol: Any, api_bob: Any, api_alice: Any, carol: Any,
                                             org_a: Any) -> None:
    r = api_carol.post(URL, {"name": "API errors", "query": 'level=error service="api router"', "window": "24h"},
                       format="json")
    assert r.status_code == 201, r.content
    made = r.json()
    assert made["created_by"] == carol.email and made["window"] == "24h"
    saved = SavedSearch.objects.for_org(org_a).get(pk=made["id"])
    assert saved.created_by == carol and saved.query == 'level=error service="api router"'
    # Shared: the viewer and the admin see it too.
    for client in (api_bob, api_alice):
        listed = client.get(URL).json()["results"]
        assert [(s["name"], s["query"]) for s in listed] == [("API errors", 'level=error service="api router"')]
        assert client.get(f"{URL}{made['id']}/").json()["name"] == "API errors"
    # Viewers do not write.
    assert api_bob.post(URL, {"name": "mine", "query": ""}, format="json").status_code == 403
    assert api_bob.patch(f"{URL}{made['id']}/", {"name": "x"}, format="json").status_code == 403
    assert api_bob.delete(f"{URL}{made['id']}/").status_code == 403
    # Editors and admins do; the creator stays who created it.
    r = api_alice.patch(f"{URL}{made['id']}/", {"name": "API errors (24h)", "window": "7d"}, format="json")
    assert r.status_code == 200 and r.json()["name"] == "API errors (24h)" and r.json()["created_by"] == carol.email
    assert api_carol.delete(f"{URL}{made['id']}/").status_code == 204
    assert not SavedSearch.objects.for_org(org_a).exists()


@pytest.mark.parametrize(("body", "code", "field"), [
    ({"name": "x", "query": "level=nope"}, "invalid_query", None),
    ({"name": "x", "query": "(a"}, "invalid_query", None),
    ({"name": "x", "query": "org=globex level=error"}, "invalid_query", None),
    ({"name": "x", "query": "", "window": "yesterday"}, "invalid", "window"),
    ({"name": "x", "query": "", "window": "0h"}, "invalid", "window"),
    ({"name": "x", "query": "", "window": "999d"}, "invalid", "window"),
    ({"name": "", "query": ""}, "invalid", "name"),
    ({"query": "level=error"}, "invalid", "name"),
    ({"name": "x" * 201, "query": ""}, "invalid", "name"),
])
def test_bad_saved_searches_are_400(api_carol: Any, org_a: Any, body: dict[str, str], code: str,
                                    field: str | None) -> None:
    r = api_carol.post(URL, body, format="json")
    assert r.status_code == 400, r.content
    error = r.json()["error"]
    assert error["code"] == code, error
    if field:  # the service's errors name it in `field`, the serializer's as a key
        assert error["details"].get("field") == field or field in error["details"], error
    assert not SavedSearch.objects.for_org(org_a).exists()


def test_names_are_unique_per_org(api_carol: Any, api_charlie: Any, org_a: Any, org_b: Any) -> None:
    assert api_carol.post(URL, {"name": "errors", "query": "level=error"}, format="json").status_code == 201
    r = api_carol.post(URL, {"name": "errors", "query": "level=warn"}, format="json")
    assert r.status_code == 400 and r.json()["error"]["code"] == "exists"
    other = api_carol.post(URL, {"name": "warnings", "query": "level=warn"}, format="json").json()
    r = api_carol.patch(f"{URL}{other['id']}/", {"name": "errors"}, format="json")
    assert r.status_code == 400 and r.json()["error"]["code"] == "exists"
    # Another org may use the same name.
    assert api_charlie.post(URL, {"name": "errors", "query": "level=error"}, format="json").status_code == 201


def test_another_orgs_saved_search_is_404(api_alice: Any, api_charlie: Any, org_a: Any, org_b: Any) -> None:
    theirs: SavedSearch = SavedSearchFactory.create(org=org_b, name="globex only", query="service=billing")
    mine: SavedSearch = SavedSearchFactory.create(org=org_a, name="acme only")
    path = f"{URL}{theirs.pk}/"
    assert api_alice.get(path).status_code == 404
    r = api_alice.put(path, {"name": "taken", "query": ""}, format="json")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert api_alice.patch(path, {"name": "taken"}, format="json").status_code == 404
    assert api_alice.delete(path).status_code == 404
    assert [s["name"] for s in api_alice.get(URL).json()["results"]] == ["acme only"]
    assert [s["name"] for s in api_charlie.get(URL).json()["results"]] == ["globex only"]
    theirs.refresh_from_db()
    assert theirs.name == "globex only" and theirs.org == org_b
    # The org comes from the credentials, never from the body.
    r = api_alice.post(URL, {"name": "sneaky", "query": "", "org": org_b.pk}, format="json")
    assert r.status_code == 201
    assert SavedSearch.objects.for_org(org_a).filter(name="sneaky").exists()
    assert not SavedSearch.objects.for_org(org_b).filter(name="sneaky").exists()
    assert mine.org == org_a
