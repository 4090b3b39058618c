"""Token rights everywhere: a read-scoped token changes nothing on any route (org, staff, Prometheus API),
a token cannot mint a token that outlives it, and an org may cap the lifetime of its tokens.

The routes are discovered from the URL conf, so an endpoint added later is covered without editing this file.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.utils import timezone
from rest_framework.test import APIClient

from metrics_app.models import Datasource
from portal.tenancy import services
from portal.tenancy.models import ApiToken, Organization
from portal.tenancy.token_rights import READ_ONLY_POSTS
from tests.conftest import token_client
from tests.factories import FACTORIES

pytestmark = pytest.mark.django_db

WRITE_METHODS = ("post", "put", "patch", "delete")
TOKEN_PREFIXES = ("api/", "prometheus/")


def _walk(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, prefix + str(p.pattern))
        else:
            yield prefix + str(p.pattern), p


def token_routes() -> list[tuple[str, URLPattern]]:
    """Every route a token can reach: the REST API (staff endpoints included) and the Prometheus API."""
    return [(route, p) for route, p in _walk(get_resolver().url_patterns) if route.startswith(TOKEN_PREFIXES)]


def _view_model(p: URLPattern) -> Any:
    cls = getattr(p.callback, "cls", None)
    model = getattr(cls, "model", None)
    queryset = getattr(cls, "queryset", None)
    return model or (queryset.model if queryset is not None else None)


def concrete_path(route: str, p: URLPattern, objects: dict[Any, Any]) -> str:
    """The route with its parameters filled: a real object of the view's model where there is one."""
    obj = objects.get(_view_model(p))
    lookup = getattr(getattr(p.callback, "cls", None), "lookup_field", "pk")
    values: dict[str, str] = {}
    for name in p.pattern.regex.groupindex:
        if obj is not None and name in (lookup, "pk"):
            values[name] = str(getattr(obj, lookup))
        elif "uuid" in str(p.pattern) and name.endswith("_id"):
            values[name] = str(uuid.uuid4())
        else:
            values[name] = "1"  # matches every converter and router regex used here but uuid
    # Django routes (`<str:name>`) and DRF router regexes (`^name/(?P<pk>[^/]+)/$`) alike.
    for name, value in values.items():
        route = re.sub(r"\(\?P<" + name + r">[^)]*\)", value, route)
        route = re.sub(r"<(?:\w+:)?" + name + ">", value, route)
    return "/" + route.replace("^", "").replace("$", "").replace("\\", "")


def db_fingerprint() -> dict[str, list[dict[str, Any]]]:
    """Every row of every model; `last_used_at` and the access records of the audit log (a token's use, a
    staff member's access: security_events.py) are bookkeeping of authentication itself."""
    from portal.tenancy.security_events import STAFF_ACCESS, TOKEN_USE

    out: dict[str, list[dict[str, Any]]] = {}
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        rows = [r for r in model._base_manager.order_by("pk").values()
                if r.get("action") not in (TOKEN_USE, STAFF_ACCESS)]
        for row in rows:
            row.pop("last_used_at", None)
        out[model._meta.label] = rows
    return out


@pytest.fixture
def world(org_a: Organization, alice: Any, operator: Any) -> dict[Any, Any]:
    """One object of every org-owned model in org A, plus a datasource (platform, staff-managed)."""
    objects: dict[Any, Any] = {model: factory(org=org_a) for model, factory in FACTORIES.items()}
    objects[Datasource] = Datasource.objects.create(name="platform", url="http://prom.invalid:9090")
    return objects


@pytest.mark.parametrize("who", ["member", "staff"])
def test_read_token_cannot_write_on_any_route(who: str, world: dict[Any, Any], org_a: Organization,
                                              alice: Any, operator: Any) -> None:
    client = token_client(org_a, alice if who == "member" else operator, "read")
    routes = token_routes()
    names = {p.name for _, p in routes}
    # Discovery really found the org, staff and Prometheus routes (an empty walk would prove nothing).
    assert {"api-platform-orgs", "datasource-list", "member-list", "apitoken-list", "prom-query",
            "logs-export-schedule-detail", "alert-rule-list"} <= names
    before = db_fingerprint()
    refused, allowed = [], []
    for route, p in routes:
        path = concrete_path(route, p, world)
        assert resolve(path).url_name == p.name, (route, path)
        for method in WRITE_METHODS:
            resp = getattr(client, method)(path, {}, format="json")
            if method == "post" and p.name in READ_ONLY_POSTS:
                assert resp.status_code != 403, (method, path, resp.content)
                allowed.append(path)
                continue
            assert resp.status_code == 403, (method, path, resp.status_code, resp.content[:300])
            assert "read-only" in resp.json()["error"]["message"]
            refused.append((method, path))
    assert db_fingerprint() == before
    assert len(refused) >= 4 * 40 and allowed


def test_read_only_posts_are_prometheus_reads() -> None:
    """The exception list is short and names only routes that exist and take POST as a read."""
    names = {p.name: route for route, p in token_routes()}
    assert set(READ_ONLY_POSTS) <= set(names)
    assert all(names[n].startswith("prometheus/api/v1/") and not names[n].endswith("write") for n in READ_ONLY_POSTS)


def test_staff_read_token_cannot_create_orgs_or_datasources(org_a: Organization, operator: Any) -> None:
    read, write = token_client(org_a, operator, "read"), token_client(org_a, operator, "write")
    org_body = {"slug": "evilcorp", "name": "Evil"}
    ds_body = {"name": "dead", "kind": "prometheus", "url": "http://dead.invalid:9090/", "is_default": True}
    assert read.post("/api/v1/platform/orgs/", org_body, format="json").status_code == 403
    assert read.post("/api/v1/datasources/", ds_body, format="json").status_code == 403
    assert not Organization.objects.filter(slug="evilcorp").exists() and not Datasource.objects.exists()
    # The same staff user's write token may: the refusal above is the token's scope, not the route.
    assert write.post("/api/v1/platform/orgs/", org_body, format="json").status_code == 201
    assert write.post("/api/v1/datasources/", ds_body, format="json").status_code == 201


def test_read_token_may_post_a_prometheus_read(org_a: Organization, alice: Any) -> None:
    resp = token_client(org_a, alice, "read").post("/prometheus/api/v1/query", {"query": "up{"})
    assert resp.status_code == 400 and resp.json()["status"] == "error"  # parsed, not refused for scope


# ---------------------------------------------------------------- a token never outlives its creator


def _client_with(secret: str) -> APIClient:
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return c


def test_token_cannot_create_a_token_that_outlives_it(org_a: Organization, alice: Any) -> None:
    soon = timezone.now() + timedelta(minutes=2)
    _, secret = services.create_api_token(org_a, alice, "short", "write", soon)
    short = _client_with(secret)
    resp = short.post("/api/v1/tokens/", {"name": "forever", "scope": "write"}, format="json")
    assert resp.status_code == 400, resp.content
    assert "outlives" in resp.json()["error"]["message"]
    later = (soon + timedelta(hours=1)).isoformat()
    resp = short.post("/api/v1/tokens/", {"name": "later", "expires_at": later}, format="json")
    assert resp.status_code == 400 and "at most" in resp.json()["error"]["message"]
    assert ApiToken.objects.for_org(org_a).filter(name__in=["forever", "later"]).count() == 0
    ok = short.post("/api/v1/tokens/", {"name": "shorter", "expires_at": (soon - timedelta(seconds=30)).isoformat()},
                    format="json")
    assert ok.status_code == 201, ok.content
    # A token without expiry may create one without expiry (the default stays as it was).
    _, forever = services.create_api_token(org_a, alice, "forever-parent", "write")
    assert _client_with(forever).post("/api/v1/tokens/", {"name": "child"}, format="json").status_code == 201


# ---------------------------------------------------------------- the org's maximum token lifetime


def test_org_maximum_token_lifetime(org_a: Organization, alice: Any, carol: Any, api_alice: APIClient,
                                    api_carol: APIClient) -> None:
    assert org_a.token_max_lifetime_days is None
    assert api_alice.post("/api/v1/tokens/", {"name": "no limit yet"}, format="json").status_code == 201
    _, old_secret = services.create_api_token(org_a, alice, "old", "read")
    # Only admins set it; nonsense values are 400.
    assert api_carol.patch("/api/v1/org/", {"token_max_lifetime_days": 7}, format="json").status_code == 403
    bad = api_alice.patch("/api/v1/org/", {"token_max_lifetime_days": 0}, format="json")
    assert bad.status_code == 400 and "token_max_lifetime_days" in bad.json()["error"]["message"]
    resp = api_alice.patch("/api/v1/org/", {"token_max_lifetime_days": 7}, format="json")
    assert resp.status_code == 200 and resp.json()["token_max_lifetime_days"] == 7
    assert api_alice.get("/api/v1/org/").json()["token_max_lifetime_days"] == 7
    # Creation beyond it (or without expiry) is 400, through the API and the services alike.
    for body in ({"name": "no expiry"}, {"name": "8d", "expires_at": (timezone.now() + timedelta(days=8)).isoformat()}):
        resp = api_alice.post("/api/v1/tokens/", body, format="json")
        assert resp.status_code == 400 and "maximum token lifetime" in resp.json()["error"]["message"], body
    six_days = (timezone.now() + timedelta(days=6)).isoformat()
    assert api_alice.post("/api/v1/tokens/", {"name": "6d", "expires_at": six_days}, format="json").status_code == 201
    with pytest.raises(services.ServiceError):
        services.create_api_token(org_a, carol, "cli", "read")
    # A token created before the limit and older than it stops working.
    ApiToken.objects.for_org(org_a).filter(name="old").update(created_at=timezone.now() - timedelta(days=8))
    resp = _client_with(old_secret).get("/api/v1/org/")
    assert resp.status_code == 401 and "maximum token lifetime" in resp.json()["error"]["message"]
    # Clearing it restores the default: no limit.
    assert api_alice.patch("/api/v1/org/", {"token_max_lifetime_days": None}, format="json").status_code == 200
    assert api_alice.post("/api/v1/tokens/", {"name": "free again"}, format="json").status_code == 201
