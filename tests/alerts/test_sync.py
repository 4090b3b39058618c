"""Sync and reconcile against real Prometheus, Alertmanager, promtool and amtool."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from alerts_app import render, sync
from alerts_app.models import Channel, OrgSync, Rule, SyncState
from alerts_app.secrets import write as write_secrets
from portal.backends.errors import BackendUnavailable
from portal.tenancy.models import Organization
from tests import procs

pytestmark = pytest.mark.django_db


def make_rule(org: Organization, name: str = "ServiceDown", **kw: Any) -> Rule:
    defaults: dict[str, Any] = {"kind": "threshold", "query": "up", "comparator": "==", "threshold": 0,
                                "for_duration": "1m", "severity": "critical",
                                "annotations": {"summary": "{{ $labels.job }} down"}}
    defaults.update(kw)
    return Rule.objects.create(org=org, name=name, **defaults)


def bump(org: Organization) -> None:
    state, _ = OrgSync.objects.all_orgs().get_or_create(org=org)
    OrgSync.objects.all_orgs().filter(pk=state.pk).update(requested=state.requested + 1)


def loaded_rules(prom: procs.Proc) -> list[dict[str, Any]]:
    groups = httpx.get(prom.url + "/api/v1/rules").json()["data"]["groups"]
    return [r for g in groups for r in g["rules"] if r["type"] == "alerting"]  # not the platform series


def test_sync_renders_validates_writes_reloads_and_reads_back(org_a: Organization, org_b: Organization,
                                                              backends: Any, settings: Any) -> None:
    prom, am = backends
    rule = make_rule(org_a)
    make_rule(org_b, "OtherOrg")
    ch = Channel(org=org_a, name="hook", kind="webhook")
    write_secrets(ch, {"url": "http://127.0.0.1:9/x"})
    ch.save()
    bump(org_a)
    report = sync.sync_org(org_a.pk)
    assert report.errors == {}
    rule.refresh_from_db()
    assert rule.sync_state == SyncState.SYNCED, rule.sync_error
    loaded = loaded_rules(prom)
    mine = [r for r in loaded if r["labels"].get("portal_rule") == str(rule.pk)]
    assert len(mine) == 1
    assert 'org_id="acme"' in mine[0]["query"] and mine[0]["labels"]["org_id"] == "acme"
    # only org A's file was written by org A's sync
    assert not render.rules_path(org_b.pk).exists()
    status = httpx.get(am.url + "/api/v2/status").json()
    names = {r["name"] for r in yaml.safe_load(status["config"]["original"])["receivers"]}
    assert {f"org{org_a.pk}-history", f"org{org_a.pk}-ch{ch.pk}"} <= names
    # The org route matches the org label; channel routes sit under a severity route.
    route = next(r for r in yaml.safe_load(Path(settings.ALERTMANAGER_CONFIG_FILE).read_text())["route"]["routes"]
                 if r["receiver"] == f"org{org_a.pk}-default")
    assert route["matchers"] == ['org_id="acme"']
    assert any(r.get("matchers") == ['severity="critical"'] for r in route["routes"])


def test_burst_is_coalesced(org_a: Organization, alert_files: Path) -> None:
    make_rule(org_a)
    for _ in range(5):
        bump(org_a)
    first = sync.sync_org(org_a.pk)
    assert not first.coalesced
    later = [sync.sync_org(org_a.pk) for _ in range(4)]
    assert all(r.coalesced for r in later)
    state = OrgSync.objects.for_org(org_a).get()
    assert state.done == state.requested == 5


def test_file_failing_validation_is_never_written(org_a: Organization, alert_files: Path) -> None:
    good = make_rule(org_a)
    bump(org_a)
    sync.sync_org(org_a.pk)
    before = render.rules_path(org_a.pk).read_text()
    # A bad value slips past the API (written straight to the DB) that only promtool knows to refuse
    # (templates are refused earlier, at render: tests/security/test_alert_templates.py).
    bad = make_rule(org_a, "Bad", for_duration="5 minutes")
    bump(org_a)
    report = sync.sync_org(org_a.pk)
    assert "promtool" in report.errors[org_a.pk]
    assert render.rules_path(org_a.pk).read_text() == before
    bad.refresh_from_db()
    assert bad.sync_state == SyncState.ERROR and "promtool" in bad.sync_error
    good.refresh_from_db()
    assert good.sync_state == SyncState.ERROR  # the whole file was refused, so nothing of it is current


def test_reconcile_restores_hand_edited_and_deleted_files(org_a: Organization, org_b: Organization,
                                                          backends: Any) -> None:
    prom, _ = backends
    ra = make_rule(org_a)
    rb = make_rule(org_b, "B1")
    sync.reconcile()
    path_a, path_b = render.rules_path(org_a.pk), render.rules_path(org_b.pk)
    good_a = path_a.read_text()
    path_a.write_text("groups:\n- name: hacked\n  rules:\n  - alert: X\n    expr: vector(1)\n")
    path_b.unlink()
    httpx.post(prom.url + "/-/reload").raise_for_status()
    assert {r["labels"].get("portal_rule") for r in loaded_rules(prom)} == {None}
    report = sync.reconcile()
    assert report.files_written == 2
    assert path_a.read_text() == good_a and path_b.exists()
    ids = {r["labels"].get("portal_rule") for r in loaded_rules(prom)}
    assert ids == {str(ra.pk), str(rb.pk)}
    # An orphan file (no such org) is removed.
    orphan = render.rules_path(999999)
    orphan.write_text("groups: []\n")
    assert sync.reconcile().files_removed == 1 and not orphan.exists()


def test_backend_down_marks_error_then_synced_when_back(org_a: Organization, alert_files: Path,
                                                       settings: Any) -> None:
    rule = make_rule(org_a)
    port = procs.free_port()
    settings.PROMETHEUS_URL = f"http://127.0.0.1:{port}"  # nothing listens yet
    bump(org_a)
    with pytest.raises(BackendUnavailable):
        sync.sync_org(org_a.pk)
    rule.refresh_from_db()
    assert rule.sync_state == SyncState.ERROR and "prometheus unavailable" in rule.sync_error
    # The file was written (validated) before the reload failed: nothing is lost.
    assert f'"portal_rule": "{rule.pk}"' in render.rules_path(org_a.pk).read_text()
    prom = procs.start_prometheus(rules_dir=settings.PROMETHEUS_RULES_DIR, port=port)
    try:
        report = sync.sync_org(org_a.pk)  # the retry
        assert not report.coalesced
        rule.refresh_from_db()
        assert rule.sync_state == SyncState.SYNCED
        assert any(r["labels"].get("portal_rule") == str(rule.pk) for r in loaded_rules(prom))
    finally:
        prom.cleanup()


def test_alertmanager_down_marks_error(org_a: Organization, alert_files: Path, settings: Any) -> None:
    rule = make_rule(org_a)
    settings.ALERTMANAGER_URL = f"http://127.0.0.1:{procs.free_port()}"
    bump(org_a)
    with pytest.raises(BackendUnavailable):
        sync.sync_org(org_a.pk)
    rule.refresh_from_db()
    assert rule.sync_state == SyncState.ERROR and "alertmanager" in rule.sync_error


def test_task_retries_with_backoff_on_backend_down() -> None:
    """The policy's numbers; tests/alerts/test_sync_worker.py shows them on a real worker."""
    from alerts_app import tasks

    assert [tasks.SYNC_RETRY.countdown(n) for n in range(4)] == [2, 4, 8, 16]
    assert tasks.SYNC_RETRY.countdown(20) == 300
    assert tasks.sync_org_task.max_retries == tasks.SYNC_RETRY.max_retries
    assert tasks.sync_org_task.expires == tasks.SYNC_RETRY.expires


def test_beat_schedule_runs_reconcile_and_log_rules_every_minute() -> None:
    import alerts_app.tasks  # noqa: F401 - registers its beat entries
    from portal.celery import app

    schedule = app.conf.beat_schedule
    assert schedule["alerts-reconcile"]["task"] == "alerts_app.tasks.reconcile_task"
    assert schedule["alerts-reconcile"]["schedule"] == 60.0
    assert schedule["alerts-log-rules"]["task"] == "alerts_app.tasks.evaluate_log_rules_task"


def test_reconcile_task_repairs_after_backend_returns(org_a: Organization, alert_files: Path,
                                                     settings: Any) -> None:
    """The eager task does not spin on retries; the per-minute reconcile picks the error state up."""
    from alerts_app import tasks

    rule = make_rule(org_a)
    port = procs.free_port()
    settings.PROMETHEUS_URL = f"http://127.0.0.1:{port}"
    bump(org_a)
    assert "error" in tasks.sync_org_task.delay(org_a.pk).get()
    rule.refresh_from_db()
    assert rule.sync_state == SyncState.ERROR
    assert "error" in tasks.reconcile_task.delay().get()
    prom = procs.start_prometheus(rules_dir=settings.PROMETHEUS_RULES_DIR, port=port)
    try:
        result = tasks.reconcile_task.delay().get()
        assert result["synced"] == 1, result
        rule.refresh_from_db()
        assert rule.sync_state == SyncState.SYNCED
    finally:
        prom.cleanup()


def test_reconcile_writes_good_orgs_and_holds_back_a_bad_one(org_a: Organization, org_b: Organization,
                                                             prom_proc: procs.Proc) -> None:
    good = make_rule(org_b, "Good")
    bad = make_rule(org_a, "Bad", for_duration="5 minutes")
    report = sync.reconcile()
    assert set(report.errors) == {org_a.pk}
    assert not render.rules_path(org_a.pk).exists()  # never written, so never loaded
    assert render.rules_path(org_b.pk).exists()
    ids = {r["labels"].get("portal_rule") for r in loaded_rules(prom_proc)}
    assert ids == {str(good.pk)}
    bad.refresh_from_db()
    good.refresh_from_db()
    assert bad.sync_state == SyncState.ERROR and good.sync_state == SyncState.SYNCED
