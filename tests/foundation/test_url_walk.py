"""Walk every URL pattern in the URLconf: nothing is reachable without login and org membership unless it
is on the public allowlist. A new endpoint that forgets the tenancy base classes fails here."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

# Public on purpose. Each entry is a regex over the route; reason alongside.
PUBLIC = {
    r"^healthz$": "liveness",
    r"^readyz$": "readiness",
    r"^metrics$": "own metrics (may be restricted by METRICS_TOKEN)",
    r"^accounts/(login|password/reset|password/reset/done|reset/.*|reset/done)/$": "login and password reset",
    r"^api/schema/$": "OpenAPI schema",
    r"^api/docs/$": "API docs page",
}
# Reachable without a session but guarded by their own credentials (token, signature): an anonymous
# request must be refused with 401/403/404, never served.
OWN_AUTH = [r"^otlp/", r"^prometheus/api/v1/", r"^hooks/", r"^exports/download/", r"^d/"]


def walk(patterns: list, prefix: str = "") -> list[str]:
    routes = []
    for p in patterns:
        if isinstance(p, URLResolver):
            routes += walk(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            routes.append((prefix + str(p.pattern)).replace("^", "").replace("$", "").replace("\\Z", ""))
    return routes


def concrete(route: str, org_slug: str) -> str:
    """Fill converters with plausible values: the org slug of an org the caller does not belong to."""
    route = route.replace("\\.", ".")
    route = re.sub(r"\(\?P<format>[^)]*\)", "json", route)
    route = re.sub(r"\(\?P<org_slug>[^)]*\)", org_slug, route)
    route = re.sub(r"\(\?P<[a-z_]+>[^)]*\)", "1", route)
    route = re.sub(r"<slug:org_slug>", org_slug, route)
    route = re.sub(r"\(\?P<org_slug>[^)]*\)", org_slug, route)
    route = re.sub(r"<(int|uuid|slug|str|path):[a-z_]+>", lambda m: {
        "int": "1", "uuid": "00000000-0000-0000-0000-000000000001"}.get(m.group(1), "x1"), route)
    route = re.sub(r"<[a-z_]+>", "x1", route)
    route = re.sub(r"\(\?P<[a-z_]+>[^)]*\)", "1", route)
    route = route.replace("(?P<", "").replace("^", "").replace("$", "")
    return "/" + route


ROUTES = sorted(set(walk(get_resolver().url_patterns)))


def is_public(route: str) -> bool:
    return any(re.search(rx, route.lstrip("^")) for rx in PUBLIC)


def own_auth(route: str) -> bool:
    return any(re.search(rx, route.lstrip("^")) for rx in OWN_AUTH)


def test_walker_sees_the_apps():
    joined = "\n".join(ROUTES)
    for expected in ("api/v1/members", "o/<slug:org_slug>/settings/members", "healthz"):
        assert expected in joined


@pytest.mark.django_db
@pytest.mark.parametrize("route", ROUTES)
def test_anonymous_is_refused(route, org_a):
    if is_public(route):
        return
    url = concrete(route, "acme")
    client = Client()
    for method in ("get", "post"):
        r = getattr(client, method)(url)
        if r.status_code in (301, 302):
            assert "/accounts/login/" in r["Location"], f"{method} {url} redirects to {r['Location']}"
        else:
            assert r.status_code in (400, 401, 403, 404, 405, 413, 415), f"{method} {url} → {r.status_code}"
            if r.status_code == 400:
                assert own_auth(route), f"{method} {url} validated input before authenticating"


@pytest.mark.django_db
@pytest.mark.parametrize("route", [r for r in ROUTES if "<slug:org_slug>" in r])
def test_outsider_gets_404_on_every_org_page(route, org_a, charlie):
    client = Client()
    client.force_login(charlie)
    url = concrete(route, "acme")
    for method in ("get", "post"):
        r = getattr(client, method)(url)
        assert r.status_code in (404, 405), f"{method} {url} → {r.status_code} for a non-member"


@pytest.mark.django_db
@pytest.mark.parametrize("route", [r for r in ROUTES if r.startswith("api/v1/")])
def test_session_user_without_membership_gets_no_data(route, org_a, charlie):
    """A logged-in user naming an org they do not belong to sees 404 (or 403 on staff-only endpoints)."""
    client = Client()
    client.force_login(charlie)
    url = concrete(route, "acme")
    r = client.get(url, HTTP_X_PORTAL_ORG="acme")
    assert r.status_code in (403, 404, 405), f"GET {url} → {r.status_code}"
