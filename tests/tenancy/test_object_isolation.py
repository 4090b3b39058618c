"""The object-level isolation contract, discovered from the URL conf.

Every route that names one object is found by walking the resolver: DRF viewset routes map to their model
through the viewset (`model`, or `queryset.model`), browser pages through the table of object kwargs below.
For each, a real object is made in org A by its factory, the owner is shown to reach it (so a 404 cannot
come from a broken request), then org B's admin calls every method with a write token and with a session:
each answer is 404 and nothing of org A changed. A route whose model has no factory, or whose kwarg is not
classified, fails. Lists of org-owned models cost the same number of queries for 1 and 10 rows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection, models
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from rest_framework.test import APIClient

from alerts_app.models import AlertEvent, Rule
from dashboards_app.models import Dashboard, DashboardVersion, ModelPrice, QueryHistory
from metrics_app.models import Datasource, PlatformSeries
from portal.tenancy.models import AuditEntry, Organization
from tests.conftest import token_client
from tests.factories import FACTORIES, factory_for, org_owned_models

METHODS = ("get", "put", "patch", "delete", "post")
ORG_SLUG = "org_slug"

# Object kwargs of browser pages (no viewset to read the model from): kwarg -> (model, field).
PAGE_OBJECTS: dict[str, tuple[type[models.Model], str]] = {
    "uid": (Dashboard, "uid"),
    "rule_id": (Rule, "pk"),
}
# URL kwargs that do not name a row of an org-owned model, each with where its isolation is shown.
NOT_ORG_ROWS = {
    "slug": "built-in dashboards are one shared, read-only catalogue",
    "name": "a label name to list values of, answered through the org-enforced PromQL path",
    "silence_id": "silences live in Alertmanager: alerts/test_live.py::test_silences_forced_to_org_and_cross_org_404",
    "trace_id": "trace store rows: logs_explorer/test_logs_traces_api.py::test_trace_detail_and_its_isolation",
    "record_id": "log store rows: logs_explorer/test_logs_traces_api.py::test_context_of_another_org_is_404",
    "service": "a service name of the org's spans: logs/test_service_page.py::test_service_api_and_org_isolation",
    "token": "signed, expiring links (export download: logs_explorer/test_exports.py::"
             "test_download_link_checks_signature_org_and_expiry; scrape relay: metrics_in/test_scrape_targets.py)",
    "uidb64": "Django's password reset link",
    "org_id": "signed Alertmanager webhook: alerts/test_channels.py::test_relay_hook_signs_and_only_serves_its_org",
    "receiver": "signed Alertmanager webhook (with org_id)",
}
# Models behind object routes that are platform configuration, not org-owned (staff only).
PLATFORM_MODELS: dict[type[models.Model], str] = {
    Datasource: "metrics backends are managed by platform operators",
    ModelPrice: "one list-price table for every org: members read it, staff write it (dashboards/test_ai_usage.py)",
    PlatformSeries: "the platform-series allow-list: members read it, staff write it (metrics/test_platform_series.py)",
}
# Values for kwargs that are not the object's own key, and query strings an action needs to get as far
# as its lookup (validation of a missing parameter would otherwise answer first).
SECONDARY_KWARGS = {"version": "1"}
ACTION_QUERY = {"diff": {"from": "1", "to": "1"}}


@dataclass(frozen=True)
class Route:
    text: str
    callback: Any

    @property
    def kwargs(self) -> list[str]:
        return re.findall(r"\(\?P<(\w+)>", self.text) + re.findall(r"<(?:\w+:)?(\w+)>", self.text)

    @property
    def viewset(self) -> Any:
        return getattr(self.callback, "cls", None) if getattr(self.callback, "actions", None) else None

    def url(self, values: dict[str, str]) -> str:
        path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: values[m[1]], self.text)
        path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m[1]], path)
        return "/" + path.replace("^", "").replace("$", "").replace("\\Z", "")


def _walk(patterns: list[Any], prefix: str = "") -> list[Route]:
    routes: list[Route] = []
    for p in patterns:
        if isinstance(p, URLResolver):
            routes += _walk(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            routes.append(Route(prefix + str(p.pattern), p.callback))
    return routes


ROUTES = _walk(get_resolver().url_patterns)


def _lookup_kwarg(viewset: Any) -> str:
    return str(viewset.lookup_url_kwarg or viewset.lookup_field)


def viewset_model(viewset: Any) -> type[models.Model]:
    model = getattr(viewset, "model", None)
    if model is None and getattr(viewset, "queryset", None) is not None:
        model = viewset.queryset.model
    assert model is not None, f"{viewset.__name__}: cannot map to a model (set `model` or `queryset`)"
    return model  # type: ignore[no-any-return]


def _is_org_owned(model: type[models.Model]) -> bool:
    return model in org_owned_models()


@dataclass(frozen=True)
class ObjectRoute:
    route: Route
    model: type[models.Model]
    field: str  # the model field the object kwarg holds
    kwarg: str
    api: bool
    actions: dict[str, str]  # method -> action name (DRF); pages answer any method

    def __str__(self) -> str:
        return self.route.text


def object_routes() -> tuple[list[ObjectRoute], list[str]]:
    """Every route naming one org-owned object, and the routes that could not be classified."""
    found: list[ObjectRoute] = []
    unclassified: list[str] = []
    for route in ROUTES:
        kwargs = [k for k in route.kwargs if k != ORG_SLUG]
        viewset = route.viewset
        if viewset is not None:
            kwarg = _lookup_kwarg(viewset)
            if kwarg not in kwargs:
                continue
            model = viewset_model(viewset)
            if not _is_org_owned(model):
                if model not in PLATFORM_MODELS:
                    unclassified.append(f"{route.text}: {model._meta.label} is neither org-owned nor platform")
                continue
            field = viewset.lookup_field if viewset.lookup_field != "pk" else "pk"
            actions = {m: a for m, a in route.callback.actions.items() if m in viewset.http_method_names}
            found.append(ObjectRoute(route, model, field, kwarg, True, actions))
            continue
        for kwarg in kwargs:
            if kwarg in PAGE_OBJECTS and route.text.startswith("o/"):
                model, field = PAGE_OBJECTS[kwarg]
                found.append(ObjectRoute(route, model, field, kwarg, False, {}))
            elif kwarg not in NOT_ORG_ROWS and kwarg not in SECONDARY_KWARGS:
                unclassified.append(f"{route.text}: URL kwarg {kwarg!r} is not classified")
    return found, unclassified


OBJECT_ROUTES, UNCLASSIFIED = object_routes()


def test_every_object_route_is_classified() -> None:
    assert not UNCLASSIFIED, "add these to PAGE_OBJECTS, NOT_ORG_ROWS or PLATFORM_MODELS:\n" + "\n".join(UNCLASSIFIED)


def test_discovery_sees_the_object_routes() -> None:
    """The walker is not silently empty: the routes we know of are all found, API and pages."""
    texts = {str(r) for r in OBJECT_ROUTES}
    for expected in ("api/v1/^dashboards/(?P<uid>[^/]+)/restore/$", "api/v1/^alerts/channels/(?P<pk>[^/]+)/test/$",
                     "api/v1/^members/(?P<pk>[^/]+)/$", "api/v1/^exports/(?P<pk>\\d+)/cancel/$",
                     "o/<slug:org_slug>/dashboards/<str:uid>/", "o/<slug:org_slug>/alerts/rules/<int:rule_id>/"):
        assert expected in texts, f"{expected} was not discovered"
    assert {r.model for r in OBJECT_ROUTES} >= {Dashboard, Rule}


@pytest.mark.django_db
def test_every_org_owned_model_has_a_factory(org_a: Organization) -> None:
    models_found = org_owned_models()
    assert len(models_found) >= 15, models_found
    missing = [m._meta.label for m in models_found if m not in FACTORIES]
    assert not missing, f"org-owned models without a factory in tests/factories.py: {missing}"
    for model in models_found:
        obj = factory_for(model)(org=org_a)
        assert model.objects.for_org(org_a).filter(pk=obj.pk).exists()  # type: ignore[attr-defined]


# --- the contract ----------------------------------------------------------------------------------------


def org_state(org: Organization) -> dict[str, list[dict[str, Any]]]:
    """Every org-owned row of the org: a change anywhere (not just the target row) is a leak."""
    return {m._meta.label: list(m.objects.for_org(org).order_by("pk").values())  # type: ignore[attr-defined]
            for m in org_owned_models()}


def org_counts(org: Organization) -> dict[str, int]:
    """Rows per org-owned model; the audit log's access records (a token's use: security_events.py) are
    written by authentication itself, not by the call."""
    from portal.tenancy.security_events import STAFF_ACCESS, TOKEN_USE

    return {m._meta.label: m.objects.for_org(org).exclude(**({"action__in": [TOKEN_USE, STAFF_ACCESS]}
                                                             if m is AuditEntry else {})).count()
            for m in org_owned_models()}  # type: ignore[attr-defined]


def _key_of(obj: models.Model, field: str) -> str:
    return str(obj.pk if field == "pk" else getattr(obj, field))


def _make_object(model: type[models.Model], org: Organization) -> models.Model:
    try:
        maker = factory_for(model)
    except LookupError as exc:
        pytest.fail(str(exc))
    return maker.create(org=org)  # type: ignore[no-any-return]


def _session(user: Any, org: Organization) -> Client:
    client = Client(HTTP_X_PORTAL_ORG=org.slug)
    client.force_login(user)
    return client


def _call(client: Client | APIClient, method: str, url: str, body: dict[str, Any] | None,
          query: dict[str, str]) -> Any:
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    if method == "get":
        return client.get(url)
    return getattr(client, method)(url, data=json.dumps(body or {}), content_type="application/json")


def _hostile_body(representation: Any) -> dict[str, Any]:
    """The owner's own representation with its names changed: valid input, so a 404 is scoping's doing."""
    body = dict(representation) if isinstance(representation, dict) else {}
    for key in ("name", "title", "record"):
        if key in body:
            body[key] = f"{body[key]}-taken"
    body.setdefault("version", 1)
    return body


@pytest.mark.django_db
@pytest.mark.parametrize("target", OBJECT_ROUTES, ids=str)
def test_another_org_gets_404_and_changes_nothing(target: ObjectRoute, org_a: Organization, org_b: Organization,
                                                 alice: Any, charlie: Any) -> None:
    obj = _make_object(target.model, org_a)
    values = {**SECONDARY_KWARGS, target.kwarg: _key_of(obj, target.field)}
    assert resolve(target.route.url({**values, ORG_SLUG: org_a.slug})).func is target.route.callback

    # The owner reaches the object through this very route (GET), so B's 404 cannot be a bad request.
    owner: Client | APIClient = token_client(org_a, alice, "write") if target.api else _session(alice, org_a)
    own_url = target.route.url({**values, ORG_SLUG: org_a.slug})
    representation: Any = None
    if not target.api or "get" in target.actions:
        query = ACTION_QUERY.get(target.actions.get("get", ""), {})
        r = _call(owner, "get", own_url, None, query)
        assert r.status_code == 200, f"owner GET {own_url} → {r.status_code}: {r.content[:300]!r}"
        if target.api and r.get("Content-Type", "").startswith("application/json"):
            representation = r.json()
    body = _hostile_body(representation)

    outsiders: list[tuple[str, Client | APIClient]] = [
        ("token", token_client(org_b, charlie, "write")), ("session", _session(charlie, org_b))]
    if not target.api:
        outsiders = outsiders[1:]  # browser pages are session-only
    before_a, before_b = org_state(org_a), org_counts(org_b)
    url = target.route.url({**values, ORG_SLUG: org_b.slug})
    failures = []
    for how, client in outsiders:
        for method in METHODS:
            query = ACTION_QUERY.get(target.actions.get(method, ""), {})
            r = _call(client, method, url, body, query)
            mapped = not target.api or method in target.actions
            allowed = (404,) if mapped and (method == "get" or target.api) else (404, 405)
            if r.status_code not in allowed:
                failures.append(f"{how} {method.upper()} {url} → {r.status_code}: {r.content[:200]!r}")
    assert not failures, "\n".join(failures)
    assert org_state(org_a) == before_a, f"org B's calls on {target} changed org A's data"
    assert org_counts(org_b) == before_b, f"org B's calls on {target} created or removed rows in org B"


# --- lists ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListCase:
    """A list of an org-owned model: `setup(org, user)` gives its URL and the factory kwargs of its rows."""

    name: str
    model: type[models.Model]
    setup: Callable[[Organization, Any], tuple[str, dict[str, Any]]]


def _viewset_list(route: Route) -> Callable[[Organization, Any], tuple[str, dict[str, Any]]]:
    return lambda org, user: (route.url({ORG_SLUG: org.slug}), {})


def _dashboard_versions(org: Organization, user: Any) -> tuple[str, dict[str, Any]]:
    dash = factory_for(Dashboard).create(org=org)
    return f"/api/v1/dashboards/{dash.uid}/versions/", {"dashboard": dash}


# Lists served by plain API views or viewset actions: no viewset model to discover them by.
OTHER_LISTS = [
    ListCase("api/v1/explore/history/", QueryHistory, lambda org, user: ("/api/v1/explore/history/", {"user": user})),
    ListCase("api/v1/alerts/history/", AlertEvent, lambda org, user: ("/api/v1/alerts/history/", {})),
    ListCase("api/v1/dashboards/<uid>/versions/", DashboardVersion, _dashboard_versions),
]


def list_cases() -> list[ListCase]:
    found = []
    for route in ROUTES:
        viewset = route.viewset
        if viewset is None or route.callback.actions.get("get") != "list":
            continue
        model = viewset_model(viewset)
        if _is_org_owned(model):
            found.append(ListCase(route.text, model, _viewset_list(route)))
    return found + OTHER_LISTS


LIST_CASES = list_cases()


def test_list_discovery_sees_the_lists() -> None:
    assert {c.model._meta.label for c in LIST_CASES} >= {
        "dashboards_app.Dashboard", "alerts_app.Rule", "alerts_app.Channel", "logs_app.Export",
        "metrics_in_app.ScrapeTarget", "tenancy.Membership", "tenancy.AuditEntry"}


def _count_queries(client: APIClient, url: str) -> tuple[int, Any]:
    with CaptureQueriesContext(connection) as ctx:
        r = client.get(url)
    assert r.status_code == 200, f"GET {url} → {r.status_code}: {r.content[:300]!r}"
    return len(ctx.captured_queries), r


def _rows(response: Any) -> int:
    data = response.json()
    return len(data["results"] if isinstance(data, dict) else data)


@pytest.mark.django_db
@pytest.mark.parametrize("case", LIST_CASES, ids=lambda c: c.name)
def test_list_queries_do_not_grow_with_rows(case: ListCase, org_a: Organization, alice: Any,
                                            django_assert_num_queries: Any) -> None:
    client = token_client(org_a, alice, "write")
    url, row_kwargs = case.setup(org_a, alice)
    maker = factory_for(case.model)
    maker(org=org_a, **row_kwargs)
    client.get(url)  # warm-up: first use of the token records last_used_at
    queries, first = _count_queries(client, url)
    rows = _rows(first)
    assert rows >= 1, f"GET {url} lists nothing: the count would prove nothing"
    maker.create_batch(9, org=org_a, **row_kwargs)
    with django_assert_num_queries(queries):
        r = client.get(url)
    assert _rows(r) == rows + 9, f"GET {url} did not list the 9 new rows"
