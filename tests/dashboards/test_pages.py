"""Browser pages (server side): list, detail, built-in, versions, Explore; roles and other orgs."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from dashboards_app import services
from dashboards_app.models import Dashboard
from portal.tenancy.audit import Actor

pytestmark = pytest.mark.django_db


@pytest.fixture
def dash(org_a: Any, alice: Any) -> Dashboard:
    d = services.create_dashboard(org_a, {"title": "Acme ops", "panels": [
        {"type": "stat", "title": "Users", "targets": [{"expr": "sum(active_users)"}]}]}, Actor.of(alice))
    return services.save_dashboard(org_a, d.uid, {"title": "Acme ops v2"}, Actor.of(alice))


def test_list_shows_builtins_and_own_dashboards(web_alice: Client, dash: Dashboard) -> None:
    r = web_alice.get("/o/acme/dashboards/")
    assert r.status_code == 200
    html = r.content.decode()
    for title in ("Platform Overview", "API Router", "User-Org Service", "Analytics Service", "Performance",
                  "Capacity planning", "Acme ops v2"):
        assert title in html
    assert 'id="import-button"' in html and 'id="new-dashboard"' in html


def test_viewer_sees_no_write_controls_and_cannot_create(org_a: Any, bob: Any, dash: Dashboard) -> None:
    c = Client()
    c.force_login(bob)
    html = c.get("/o/acme/dashboards/").content.decode()
    assert "Acme ops v2" in html and 'id="new-dashboard"' not in html
    assert c.post("/o/acme/dashboards/new/", {"title": "x"}).status_code == 403
    page = c.get(f"/o/acme/dashboards/{dash.uid}/").content.decode()
    assert '"can_write": false' in page and 'id="edit-toggle"' not in page
    assert c.post(f"/o/acme/dashboards/{dash.uid}/versions/", {"version": 1}).status_code == 403
    assert Dashboard.objects.for_org(org_a).get().version == 2


def test_create_from_the_list_page(web_alice: Client, org_a: Any) -> None:
    r = web_alice.post("/o/acme/dashboards/new/", {"title": "Revenue"})
    assert r.status_code == 302
    dash = Dashboard.objects.for_org(org_a).get()
    assert r["Location"] == f"/o/acme/dashboards/{dash.uid}/?edit=1" and dash.title == "Revenue"


def test_detail_builtin_and_explore_pages(web_alice: Client, dash: Dashboard) -> None:
    page = web_alice.get(f"/o/acme/dashboards/{dash.uid}/")
    assert page.status_code == 200 and b"vendor/plotly.min.js" in page.content and b"Acme ops v2" in page.content
    assert b"cdn" not in page.content.lower()
    built = web_alice.get("/o/acme/dashboards/builtin/platform-overview/")
    assert built.status_code == 200 and b'id="clone-builtin"' in built.content
    assert web_alice.get("/o/acme/dashboards/builtin/nope/").status_code == 404
    explore = web_alice.get("/o/acme/explore/", {"query": "up"})
    assert explore.status_code == 200 and b'"query": "up"' in explore.content


def test_versions_page_diff_and_restore(web_alice: Client, dash: Dashboard, org_a: Any) -> None:
    r = web_alice.get(f"/o/acme/dashboards/{dash.uid}/versions/", {"from": 1, "to": 2})
    html = r.content.decode()
    assert r.status_code == 200 and "v1 → v2" in html and "Acme ops v2" in html
    assert '<span class="del">-  &quot;title&quot;: &quot;Acme ops&quot;,</span>' in html
    r = web_alice.post(f"/o/acme/dashboards/{dash.uid}/versions/", {"version": 1})
    assert r.status_code == 302
    restored = Dashboard.objects.for_org(org_a).get()
    assert restored.version == 3 and restored.title == "Acme ops" and len(restored.spec["panels"]) == 1


@pytest.mark.parametrize("path", ["/o/acme/dashboards/{uid}/", "/o/acme/dashboards/{uid}/versions/",
                                  "/o/globex/dashboards/{uid}/", "/o/globex/dashboards/{uid}/versions/",
                                  "/o/acme/dashboards/", "/o/acme/explore/",
                                  "/o/acme/dashboards/builtin/platform-overview/"])
def test_other_org_gets_404(web_charlie: Client, dash: Dashboard, path: str) -> None:
    assert web_charlie.get(path.format(uid=dash.uid)).status_code == 404
    assert web_charlie.post(path.format(uid=dash.uid), {"version": 1}).status_code == 404
    assert Dashboard.objects.all_orgs().get().version == 2


def test_anonymous_is_sent_to_login(client: Client, dash: Dashboard) -> None:
    r = client.get(f"/o/acme/dashboards/{dash.uid}/")
    assert r.status_code == 302 and "/accounts/login/" in r["Location"]
