"""Exports through the API: create, progress, download, cancel, quota, expiry cleanup, schedules + e-mail,
and the isolation of every export URL (another org's export and link answer 404)."""

from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail, signing
from django.utils import timezone

from logs_app.exports import links, services
from logs_app.exports.models import Export, ExportSchedule, ExportStatus
from logs_app.store import get_store
from tests.logs_explorer.conftest import make_logs

pytestmark = pytest.mark.django_db


def _create(client: Any, capture: Any, **body: Any) -> Any:
    body.setdefault("since", "01:00:00")
    with capture(execute=True):
        return client.post("/api/v1/exports/", body, format="json")


def _download(client: Any, url: str) -> Any:
    return client.get(url.replace("http://127.0.0.1:8000", ""))


def test_on_demand_csv_export_streams_only_own_org(api_alice: Any, seeded: Any,
                                                   django_capture_on_commit_callbacks: Any) -> None:
    resp = _create(api_alice, django_capture_on_commit_callbacks, query="level=error", format="csv", gzip=True)
    assert resp.status_code == 202, resp.content
    data = api_alice.get(f"/api/v1/exports/{resp.json()['id']}/").json()
    assert data["status"] == "done", data
    assert data["progress"] == {"rows": 6, "total": 6, "percent": 100.0}
    assert data["size_bytes"] > 0 and data["download_url"]
    got = _download(api_alice, data["download_url"])
    assert got.status_code == 200 and got["Content-Disposition"].startswith("attachment")
    text = gzip.decompress(b"".join(got.streaming_content)).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 6 and {r["level"] for r in rows} == {"error"}
    assert all("globex" not in r["message"] for r in rows)


def test_ndjson_export_without_gzip(api_alice: Any, seeded: Any, django_capture_on_commit_callbacks: Any) -> None:
    resp = _create(api_alice, django_capture_on_commit_callbacks, query="service=user-service", format="ndjson",
                   gzip=False)
    export = Export.objects.all_orgs().get(pk=resp.json()["id"])
    assert export.status == ExportStatus.DONE
    lines = [json.loads(x) for x in export.file_path().read_text().splitlines()]  # type: ignore[union-attr]
    assert lines and all(x["service"] == "user-service" for x in lines)
    assert lines == sorted(lines, key=lambda x: x["timestamp"])  # oldest first


@pytest.mark.parametrize("body, code", [
    ({"query": "level=(", "since": "01:00:00"}, "invalid_query"),
    ({"query": "org=globex", "since": "01:00:00"}, "invalid_query"),
    ({"query": "", "start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"}, "invalid"),
    ({"query": "", "format": "xlsx"}, "invalid"),
    ({"query": "", "start": "not a time"}, "invalid"),
])
def test_bad_export_requests_are_400_and_save_nothing(api_alice: Any, body: dict[str, Any], code: str) -> None:
    resp = api_alice.post("/api/v1/exports/", body, format="json")
    assert resp.status_code == 400, resp.content
    assert resp.json()["error"]["code"] == code
    assert Export.objects.all_orgs().count() == 0


def test_quota_blocks_new_exports(api_alice: Any, org_a: Any, settings: Any, seeded: Any,
                                  django_capture_on_commit_callbacks: Any) -> None:
    settings.EXPORTS_QUOTA_BYTES = 10  # a single finished export is bigger than this
    first = _create(api_alice, django_capture_on_commit_callbacks, query="")
    assert Export.objects.for_org(org_a).get(pk=first.json()["id"]).status == ExportStatus.FAILED
    assert "quota" in Export.objects.for_org(org_a).get(pk=first.json()["id"]).error
    assert list(settings.EXPORTS_DIR.glob("*/*")) == []  # the over-quota file was removed
    settings.EXPORTS_QUOTA_BYTES = 10**9
    _create(api_alice, django_capture_on_commit_callbacks, query="")
    settings.EXPORTS_QUOTA_BYTES = 10
    resp = api_alice.post("/api/v1/exports/", {"query": ""}, format="json")
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "quota_exceeded"
    assert api_alice.get("/api/v1/exports/quota/").json()["quota_bytes"] == 10


def test_cancel_pending_export(api_alice: Any, seeded: Any) -> None:
    resp = api_alice.post("/api/v1/exports/", {"query": ""}, format="json")  # on_commit not run: stays pending
    export_id = resp.json()["id"]
    resp = api_alice.post(f"/api/v1/exports/{export_id}/cancel/")
    assert resp.status_code == 200 and resp.json()["status"] == "cancelled"
    assert services.run_export(export_id) == "cancelled"  # the queued task then does nothing
    assert api_alice.post(f"/api/v1/exports/{export_id}/cancel/").status_code == 409


def test_cancel_running_export_stops_and_removes_file(org_a: Any, alice: Any, seeded: Any, monkeypatch: Any,
                                                      settings: Any) -> None:
    """The cancel flag is set while the task streams (from inside the real store's iteration)."""
    store = get_store()
    store.write_logs([r for _ in range(20) for r in make_logs(org_a, seeded["now"], n=30)])
    export = services.create_export(org_a, alice, services.ExportRequest(
        query="", start=seeded["now"] - timedelta(hours=1), end=seeded["now"] + timedelta(minutes=1)))
    real_iter = store.iter_records

    def iter_and_cancel(*args: Any, **kwargs: Any) -> Any:
        for i, rec in enumerate(real_iter(*args, **kwargs)):
            if i == 150:
                services.cancel_export(org_a, export.pk)
            yield rec

    monkeypatch.setattr(store, "iter_records", iter_and_cancel)
    monkeypatch.setattr(services, "FAST_PATH", False)  # the generic path (pg_stream has its own test)
    monkeypatch.setattr(services, "PROGRESS_ROWS", 100)
    assert services.run_export(export.pk) == ExportStatus.CANCELLED
    export.refresh_from_db()
    assert export.status == ExportStatus.CANCELLED and export.rows_written < 630
    assert list(settings.EXPORTS_DIR.glob("*/*")) == []


def test_progress_is_reported_while_running(org_a: Any, alice: Any, seeded: Any, monkeypatch: Any) -> None:
    store = get_store()
    export = services.create_export(org_a, alice, services.ExportRequest(
        query="", start=seeded["now"] - timedelta(hours=1), end=seeded["now"] + timedelta(minutes=1)))
    seen: list[tuple[int, int | None, float | None]] = []
    real_iter = store.iter_records

    def iter_and_look(*args: Any, **kwargs: Any) -> Any:
        for i, rec in enumerate(real_iter(*args, **kwargs)):
            if i in (12, 25):
                e = Export.objects.for_org(org_a).get(pk=export.pk)
                seen.append((e.rows_written, e.rows_total, e.percent))
            yield rec

    monkeypatch.setattr(store, "iter_records", iter_and_look)
    monkeypatch.setattr(services, "FAST_PATH", False)
    monkeypatch.setattr(services, "PROGRESS_ROWS", 10)
    services.run_export(export.pk)
    assert seen == [(10, 30, 33.3), (20, 30, 66.7)]


def test_other_org_gets_404_for_export_urls(api_alice: Any, api_charlie: Any, seeded: Any,
                                            django_capture_on_commit_callbacks: Any) -> None:
    resp = _create(api_alice, django_capture_on_commit_callbacks, query="")
    export_id = resp.json()["id"]
    url = api_alice.get(f"/api/v1/exports/{export_id}/").json()["download_url"]
    assert api_charlie.get(f"/api/v1/exports/{export_id}/").status_code == 404
    assert api_charlie.post(f"/api/v1/exports/{export_id}/cancel/").status_code == 404
    assert api_charlie.delete(f"/api/v1/exports/{export_id}/").status_code == 404
    assert [e["id"] for e in api_alice.get("/api/v1/exports/").json()["results"]] == [export_id]
    assert api_charlie.get("/api/v1/exports/").json()["count"] == 0
    # The signed link itself, fetched with another org's token: 404 (the link is org-checked).
    assert _download(api_charlie, url).status_code == 404
    assert _download(api_alice, url).status_code == 200


def test_download_link_checks_signature_org_and_expiry(api_alice: Any, org_b: Any, web_charlie: Any,
                                                       client: Any, seeded: Any,
                                                       django_capture_on_commit_callbacks: Any) -> None:
    export = Export.objects.all_orgs().get(
        pk=_create(api_alice, django_capture_on_commit_callbacks, query="").json()["id"])
    path = links.download_path(export)
    assert client.get(path).status_code == 200  # anonymous: the signature is the credential (e-mail link)
    assert web_charlie.get(path).status_code == 404  # a logged-in non-member
    # Tampered token, and a correctly signed token naming the export under another org.
    assert client.get(path.replace("/download/", "/download/x")).status_code == 404
    forged = signing.dumps({"e": export.pk, "o": org_b.pk, "x": int(export.expires_at.timestamp())},
                           salt=links.SALT)
    resp = client.get(f"/api/v1/exports/download/{forged}/")
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "not_found"
    # Expired: the link's own expiry, then cleanup deletes the file.
    Export.objects.all_orgs().filter(pk=export.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get(path).status_code == 404
    assert services.cleanup_expired() == 1
    export.refresh_from_db()
    assert export.status == ExportStatus.EXPIRED and not export.file_path().exists()  # type: ignore[union-attr]
    assert api_alice.get(f"/api/v1/exports/{export.pk}/").json()["download_url"] is None


def test_delete_export_removes_file(api_alice: Any, seeded: Any, django_capture_on_commit_callbacks: Any) -> None:
    export = Export.objects.all_orgs().get(
        pk=_create(api_alice, django_capture_on_commit_callbacks, query="").json()["id"])
    path = export.file_path()
    assert path is not None and path.exists()
    assert api_alice.delete(f"/api/v1/exports/{export.pk}/").status_code == 204
    assert not path.exists() and not Export.objects.all_orgs().filter(pk=export.pk).exists()


def test_schedule_runs_when_due_and_mails_owner(api_alice: Any, alice: Any, org_a: Any, seeded: Any,
                                                django_capture_on_commit_callbacks: Any) -> None:
    resp = api_alice.post("/api/v1/exports/schedules/", {
        "name": "nightly errors", "query": "level=error", "format": "ndjson", "frequency": "daily",
        "at_time": "06:30"}, format="json")
    assert resp.status_code == 201, resp.content
    schedule = ExportSchedule.objects.for_org(org_a).get(pk=resp.json()["id"])
    assert schedule.owner == alice and schedule.next_run_at is not None
    assert (schedule.next_run_at.hour, schedule.next_run_at.minute) == (6, 30)
    due_at = schedule.next_run_at + timedelta(seconds=1)
    # Pretend the data is from just before the run: move the run to "now" so the seeded logs fall inside.
    ExportSchedule.objects.for_org(org_a).filter(pk=schedule.pk).update(next_run_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        started = services.run_due_schedules(timezone.now() + timedelta(seconds=1))
    assert len(started) == 1
    assert services.run_due_schedules(timezone.now() + timedelta(seconds=2)) == []  # claimed: not twice
    export = Export.objects.for_org(org_a).get(pk=started[0])
    assert export.status == ExportStatus.DONE and export.rows_written == 6 and export.schedule_id == schedule.pk
    assert len(mail.outbox) == 1
    msg = mail.outbox[0]
    assert msg.to == [alice.email] and "nightly errors" in msg.subject
    link = next(line for line in msg.body.splitlines() if "/api/v1/exports/download/" in line)
    assert api_alice.get(link.replace("http://127.0.0.1:8000", "")).status_code == 200
    schedule.refresh_from_db()
    assert schedule.next_run_at > timezone.now() and due_at  # moved to the next day


def test_weekly_schedule_next_run() -> None:
    s = ExportSchedule(frequency="weekly", weekday=2, at_time=timezone.datetime(2000, 1, 1, 9, 0).time())
    after = timezone.datetime(2026, 11, 25, 10, 0, tzinfo=timezone.get_current_timezone())  # a Wednesday
    nxt = s.compute_next_run(after)
    assert nxt.weekday() == 2 and nxt.date() == timezone.datetime(2026, 12, 2).date() and nxt.hour == 9


def test_schedule_validation_and_isolation(api_alice: Any, api_charlie: Any) -> None:
    bad = api_alice.post("/api/v1/exports/schedules/", {"name": "x", "query": "org=globex"}, format="json")
    assert bad.status_code == 400
    bad = api_alice.post("/api/v1/exports/schedules/", {"name": "x", "weekday": 9, "frequency": "weekly"},
                         format="json")
    assert bad.status_code == 400
    ok = api_alice.post("/api/v1/exports/schedules/", {"name": "w", "frequency": "weekly", "weekday": 4,
                                                       "at_time": "23:15"}, format="json")
    assert ok.status_code == 201
    sid = ok.json()["id"]
    assert api_charlie.get(f"/api/v1/exports/schedules/{sid}/").status_code == 404
    assert api_charlie.patch(f"/api/v1/exports/schedules/{sid}/", {"enabled": False}, format="json").status_code == 404
    assert api_charlie.delete(f"/api/v1/exports/schedules/{sid}/").status_code == 404
    assert api_alice.delete(f"/api/v1/exports/schedules/{sid}/").status_code == 204


@pytest.mark.django_db(transaction=True)
def test_progress_and_cancel_seen_across_connections(org_a: Any, alice: Any, seeded: Any, monkeypatch: Any) -> None:
    """As in production: another connection (the API) sees progress while the task streams, and its
    cancel neither blocks on the task's transaction nor is missed."""
    from django.db import DEFAULT_DB_ALIAS, connections

    store = get_store()
    store.write_logs([r for _ in range(10) for r in make_logs(org_a, seeded["now"], n=30)])
    # Saved directly: in autocommit, create_export would run the (eager) task at once.
    export = Export.objects.create(org=org_a, query="", start=seeded["now"] - timedelta(hours=1),
                                   end=seeded["now"] + timedelta(minutes=1), expires_at=timezone.now() + timedelta(1))
    other = connections.create_connection(DEFAULT_DB_ALIAS)
    seen: list[int] = []
    real_iter = store.iter_records

    def iter_watch(*args: Any, **kwargs: Any) -> Any:
        for i, rec in enumerate(real_iter(*args, **kwargs)):
            if i == 120:
                with other.cursor() as c:
                    c.execute("SELECT rows_written FROM logs_app_export WHERE id = %s", [export.pk])
                    seen.append(c.fetchone()[0])
                    c.execute("UPDATE logs_app_export SET cancel_requested = %s WHERE id = %s", [True, export.pk])
            yield rec

    monkeypatch.setattr(store, "iter_records", iter_watch)
    monkeypatch.setattr(services, "FAST_PATH", False)
    monkeypatch.setattr(services, "PROGRESS_ROWS", 50)
    try:
        assert services.run_export(export.pk) == ExportStatus.CANCELLED
    finally:
        other.close()
    assert seen == [100]
