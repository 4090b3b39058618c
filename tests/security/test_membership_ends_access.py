"""Membership ends access: removing a member (or lowering their role) pauses their export schedules (audited),
kills their download links, revokes (or downgrades) their tokens and ends their open live tail; every download
is audited."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from logs_app.exports import services as exports
from logs_app.exports.models import Export, ExportSchedule
from logs_app.store import get_store
from portal.tenancy import services
from portal.tenancy.audit import Actor
from portal.tenancy.models import ApiToken, AuditEntry, Membership, Organization
from tests.logs_explorer.conftest import make_logs


@pytest.fixture(autouse=True)
def _exports_dir(settings: Any, tmp_path: Path) -> Path:
    settings.EXPORTS_DIR = tmp_path / "exports"
    return settings.EXPORTS_DIR


@pytest.fixture
def logs(org_a: Organization) -> Iterator[None]:
    get_store().write_logs(make_logs(org_a, timezone.now().replace(microsecond=0), n=10))
    yield
    get_store().delete_older_than(org_a, timezone.now() + timedelta(days=1))


def _schedule_and_link(api: APIClient, capture: Any) -> tuple[ExportSchedule, str]:
    """The member's daily schedule and the download path of an export they requested."""
    resp = api.post("/api/v1/exports/schedules/", {"name": "nightly", "query": "level=error"}, format="json")
    assert resp.status_code == 201, resp.content
    schedule = ExportSchedule.objects.all_orgs().get(pk=resp.json()["id"])
    with capture(execute=True):
        export_id = api.post("/api/v1/exports/", {"query": "", "since": "01:00:00"}, format="json").json()["id"]
    url = api.get(f"/api/v1/exports/{export_id}/").json()["download_url"]
    assert url, "the export should be done"
    return schedule, url.replace("http://127.0.0.1:8000", "")


def _downloads(org: Organization) -> int:
    return AuditEntry.objects.for_org(org).filter(action="download", object_type="export").count()


@pytest.mark.django_db
def test_removing_a_member_ends_schedules_links_and_tokens(org_a: Organization, alice: Any, carol: Any,
                                                           api_alice: APIClient, api_carol: APIClient, logs: Any,
                                                           django_capture_on_commit_callbacks: Any) -> None:
    schedule, link = _schedule_and_link(api_carol, django_capture_on_commit_callbacks)
    assert schedule.enabled and schedule.next_run_at is not None
    assert Client().get(link).status_code == 200  # anonymous: the e-mailed link works while carol is a member
    assert _downloads(org_a) == 1
    membership = Membership.objects.for_org(org_a).get(user=carol)

    assert api_alice.delete(f"/api/v1/members/{membership.pk}/").status_code == 204

    schedule.refresh_from_db()
    assert not schedule.enabled and schedule.next_run_at is None
    paused = AuditEntry.objects.for_org(org_a).get(action="pause", object_type="exportschedule")
    assert paused.object_id == str(schedule.pk) and "removed" in paused.changes["reason"]
    assert paused.actor == alice
    # The link dies with the membership, whoever fetches it (anonymous, or even an admin of the org).
    assert Client().get(link).status_code == 404
    assert api_alice.get(link).status_code == 404
    assert _downloads(org_a) == 1  # refusals are not downloads
    # Every token of the member in this org is revoked (and audited); it answers 401.
    resp = api_carol.get("/api/v1/org/")
    assert resp.status_code == 401 and "revoked" in resp.json()["error"]["message"]
    assert not ApiToken.objects.for_org(org_a).filter(user=carol, revoked_at=None).exists()
    assert AuditEntry.objects.for_org(org_a).filter(action="revoke", object_type="apitoken").exists()
    # The paused schedule never runs again, and nothing more is mailed to the removed member.
    ExportSchedule.objects.for_org(org_a).filter(pk=schedule.pk).update(next_run_at=timezone.now())
    assert exports.run_due_schedules(timezone.now() + timedelta(days=2)) == []


@pytest.mark.django_db
def test_lowering_role_to_viewer_pauses_schedules_and_downgrades_write_tokens(
        org_a: Organization, alice: Any, carol: Any, api_alice: APIClient, api_carol: APIClient, logs: Any,
        django_capture_on_commit_callbacks: Any) -> None:
    schedule, link = _schedule_and_link(api_carol, django_capture_on_commit_callbacks)
    membership = Membership.objects.for_org(org_a).get(user=carol)

    resp = api_alice.patch(f"/api/v1/members/{membership.pk}/", {"role": "viewer"}, format="json")
    assert resp.status_code == 200, resp.content

    schedule.refresh_from_db()
    assert not schedule.enabled
    assert "lowered to viewer" in AuditEntry.objects.for_org(org_a).get(action="pause").changes["reason"]
    # Write tokens become read tokens: reads still work, writes are refused by scope.
    assert set(ApiToken.objects.for_org(org_a).filter(user=carol).values_list("scope", flat=True)) == {"read"}
    assert api_carol.get("/api/v1/exports/").status_code == 200
    resp = api_carol.post("/api/v1/exports/schedules/", {"name": "again"}, format="json")
    assert resp.status_code == 403
    # A viewer may still export and download: the link keeps working.
    assert Client().get(link).status_code == 200


@pytest.mark.django_db
def test_a_schedule_whose_owner_left_by_another_path_is_paused_when_due(
        org_a: Organization, carol: Any, api_carol: APIClient, logs: Any,
        django_capture_on_commit_callbacks: Any) -> None:
    schedule, _ = _schedule_and_link(api_carol, django_capture_on_commit_callbacks)
    Membership.objects.for_org(org_a).filter(user=carol).delete()  # e.g. the admin site, not the services
    ExportSchedule.objects.for_org(org_a).filter(pk=schedule.pk).update(next_run_at=timezone.now())
    assert exports.run_due_schedules(timezone.now() + timedelta(seconds=1)) == []
    schedule.refresh_from_db()
    assert not schedule.enabled
    assert AuditEntry.objects.for_org(org_a).filter(action="pause", object_id=str(schedule.pk)).exists()


@pytest.mark.django_db
def test_every_download_is_audited_with_its_caller(org_a: Organization, alice: Any, carol: Any,
                                                   api_alice: APIClient, api_carol: APIClient, logs: Any,
                                                   django_capture_on_commit_callbacks: Any) -> None:
    _, link = _schedule_and_link(api_carol, django_capture_on_commit_callbacks)
    web = Client()
    web.force_login(alice)
    assert Client().get(link).status_code == 200
    assert web.get(link).status_code == 200
    assert api_alice.get(link).status_code == 200
    entries = list(AuditEntry.objects.for_org(org_a).filter(action="download").order_by("id"))
    assert len(entries) == 3
    assert [e.changes["caller"] for e in entries] == ["anonymous (signed link)", alice.email, alice.email]
    assert {e.changes["link_of"] for e in entries} == {carol.email}
    assert entries[0].actor == carol and entries[1].actor == alice
    # A link is bound to its requester: re-pointing it at another member's export is a 404.
    export = Export.objects.for_org(org_a).get()
    Export.objects.for_org(org_a).filter(pk=export.pk).update(created_by=alice)
    assert Client().get(link).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_open_live_tail_ends_within_seconds_of_removal(live_server: Any, settings: Any, org_a: Organization,
                                                       alice: Any, carol: Any) -> None:
    settings.LOGS_TAIL_RECHECK_SECONDS = 0.5
    web = Client()
    web.force_login(carol)
    cookies = {"sessionid": web.cookies["sessionid"].value}
    url = live_server.url + "/o/acme/logs/tail/stream/"
    events_after_removal = 0
    ended = False
    # The read timeout bounds the test if the stream never ends; heartbeats come every half second.
    with httpx.stream("GET", url, cookies=cookies, timeout=httpx.Timeout(10.0)) as resp:
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
        removed = False
        for line in resp.iter_lines():
            if not removed and line.startswith("id: "):
                services.remove_member(Membership.objects.for_org(org_a).get(user=carol), actor=Actor.of(alice))
                removed = True
            elif removed and line.startswith("id: "):
                events_after_removal += 1
            if line == "event: end":
                ended = True
    assert ended, "the stream should close with an end event, not run to its 25 s limit"
    # Half-second re-checks: the stream closes after a couple of heartbeats, far fewer than its 25 s would send.
    assert events_after_removal <= 6
    # The browser's automatic reconnect is refused.
    assert httpx.get(url, cookies=cookies, timeout=10.0).status_code == 404
