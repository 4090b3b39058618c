"""Writes live in services: a change, its audit entry, its sync request and its queued task commit together
or not at all; tasks are queued only once the change commits; and serializers and views never audit, request
a sync or queue a task themselves (an AST scan of the apps)."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from alerts_app import services as alerts
from alerts_app import sync
from alerts_app.models import Channel, NotificationPolicy, OrgSync, Rule
from alerts_app.tasks import sync_org_task
from dashboards_app import services as dashboards
from dashboards_app.models import Dashboard
from logs_app.exports import services as exports
from logs_app.exports import tasks as export_tasks
from logs_app.exports.models import Export, ExportSchedule
from metrics_app import services as datasources
from metrics_app.models import Datasource
from metrics_in_app import services as metrics_in
from metrics_in_app import tasks as metrics_in_tasks
from metrics_in_app.models import IngestLimits, ScrapeTarget
from portal.tenancy import audit, services, signals
from portal.tenancy.audit import Actor
from portal.tenancy.models import ApiToken, AuditEntry, Membership, Organization
from tests import source_ast
from tests.factories import ApiTokenFactory, ChannelFactory, ExportScheduleFactory, RuleFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
RULE = {"name": "Error rate", "kind": "threshold", "severity": "warning", "query": "sum(rate(errors_total[5m]))",
        "comparator": ">", "threshold": 1.0, "for_duration": "5m"}
EXPORT = exports.ExportRequest(query="level:error", start=timezone.now() - timedelta(hours=1), end=timezone.now())


class Boom(Exception):
    """A step after the audit entry was written failed."""


@pytest.fixture
def audit_then_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    """`audit.record` writes its entry, then the write fails: the entry must go with the change."""
    real = audit.record

    def record_then_fail(*args: Any, **kwargs: Any) -> AuditEntry:
        real(*args, **kwargs)
        raise Boom("a later step of the write failed")

    monkeypatch.setattr(audit, "record", record_then_fail)


@pytest.fixture(autouse=True)
def _exporters_on_loopback(settings: Any) -> None:
    settings.OUTBOUND_URL_ALLOW = ["127.0.0.1/32"]


@pytest.fixture
def actor(alice: Any, org_a: Organization) -> Actor:
    return Actor(user=alice, org=org_a, ip="192.0.2.1")


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, int]]]:
    """Every task the writes queue, as (task, id), instead of sending it to a worker."""
    calls: list[tuple[str, int]] = []
    for name, task in (("sync_org", sync_org_task), ("run_export", export_tasks.run_export),
                       ("write_scrape_targets", metrics_in_tasks.write_scrape_targets)):
        monkeypatch.setattr(task, "delay", lambda arg, _name=name: calls.append((_name, arg)))
    yield calls


def _state(org: Organization) -> dict[str, Any]:
    """Everything the writes below could change, read back from the database."""
    return {
        # Access records (a token's use: security_events.py) are written by authentication, not by the write.
        "audit": AuditEntry.objects.all_orgs().exclude(action="token_use").count(),
        "rules": list(Rule.objects.for_org(org).values_list("name", "threshold", "sync_state")),
        "channels": list(Channel.objects.for_org(org).values_list("name", "secrets_encrypted")),
        "policy": NotificationPolicy.objects.for_org(org).count(),
        "sync_requested": list(OrgSync.objects.for_org(org).values_list("requested", flat=True)),
        "targets": ScrapeTarget.objects.for_org(org).count(),
        "limits": list(IngestLimits.objects.for_org(org).values_list("samples_per_second", flat=True)),
        "dashboards": Dashboard.objects.for_org(org).count(),
        "exports": Export.objects.for_org(org).count(),
        "schedules": list(ExportSchedule.objects.for_org(org).values_list("name", "enabled")),
        "members": list(Membership.objects.for_org(org).order_by("pk").values_list("user__email", "role")),
        "tokens_active": ApiToken.objects.for_org(org).filter(revoked_at=None).count(),
        "org_name": Organization.objects.get(pk=org.pk).name,
        "datasources": Datasource.objects.count(),
    }


def _writes(org: Organization, actor: Actor, carol: Any) -> dict[str, Callable[[], Any]]:
    """One write of every service, each failing after (or at) its audit entry."""
    rule = cast(Rule, RuleFactory(org=org))
    channel = cast(Channel, ChannelFactory(org=org))
    schedule = cast(ExportSchedule, ExportScheduleFactory(org=org, owner=carol))
    ApiTokenFactory(org=org, user=carol, scope="write")
    return {
        "rule create": lambda: alerts.RULES.create(actor, org, RULE),
        "rule update": lambda: alerts.RULES.update(actor, rule, {"threshold": 99.0}),
        "rule delete": lambda: alerts.RULES.delete(actor, rule),
        "channel update with secrets": lambda: alerts.CHANNELS.update(
            actor, channel, {"name": "renamed", "secrets": {"webhook_url": "https://hooks.example/new"}}),
        "notification policy": lambda: alerts.save_policy(actor, org, {"group_wait": "1m"}),
        "scrape target create": lambda: metrics_in.TARGETS.create(actor, org, {"name": "t",
                                                                              "address": "127.0.0.1:9100"}),
        "ingest limits": lambda: metrics_in.set_limits(org, {"samples_per_second": 5}, actor=actor),
        "dashboard create": lambda: dashboards.create_dashboard(org, {"title": "d"}, actor),
        "export create": lambda: exports.create_export(org, actor.user, EXPORT, actor=actor),
        "export schedule update": lambda: exports.SCHEDULES.update(actor, schedule, {"name": "renamed"}),
        "member removal": lambda: services.remove_member(Membership.objects.for_org(org).get(user=carol),
                                                         actor=actor),
        "org settings": lambda: services.update_org(actor, org, {"name": "Renamed"}),
        "datasource create": lambda: datasources.create_datasource(actor, {"name": "ds",
                                                                          "url": "http://192.0.2.1:9090"}),
    }


WRITES = ["rule create", "rule update", "rule delete", "channel update with secrets", "notification policy",
          "scrape target create", "ingest limits", "dashboard create", "export create", "export schedule update",
          "member removal", "org settings", "datasource create"]


@pytest.mark.parametrize("write", WRITES)
def test_a_write_that_fails_after_its_audit_entry_leaves_nothing(
        write: str, org_a: Organization, actor: Actor, carol: Any, queued: list[tuple[str, int]],
        django_capture_on_commit_callbacks: Any, audit_then_fail: None) -> None:
    do = _writes(org_a, actor, carol)[write]
    before = _state(org_a)
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(Boom):
        do()
    assert _state(org_a) == before
    assert callbacks == [] and queued == []  # nothing queued for a change that never happened


def test_a_sync_request_that_fails_takes_the_rule_and_its_audit_entry_with_it(
        org_a: Organization, actor: Actor, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: Any, **kwargs: Any) -> None:
        raise Boom("the sync request failed")

    monkeypatch.setattr(sync, "request_sync", fail)
    before = _state(org_a)
    with pytest.raises(Boom):
        alerts.RULES.create(actor, org_a, RULE)
    assert _state(org_a) == before


def test_a_failing_member_removal_keeps_the_member_and_their_tokens(
        org_a: Organization, actor: Actor, carol: Any) -> None:
    services.create_api_token(org_a, carol, "carol's", "write")

    def receiver(**kwargs: Any) -> None:
        raise Boom("an app could not end the member's access")

    signals.access_reduced.connect(receiver, dispatch_uid="test-writes-in-services")
    try:
        before = _state(org_a)
        with pytest.raises(Boom):
            services.remove_member(Membership.objects.for_org(org_a).get(user=carol), actor=actor)
        assert _state(org_a) == before and before["tokens_active"] == 1
    finally:
        signals.access_reduced.disconnect(dispatch_uid="test-writes-in-services")


def test_the_api_write_path_rolls_back_with_its_audit_entry(
        api_alice: APIClient, org_a: Organization, audit_then_fail: None) -> None:
    """Through the org-scoped viewset base: the service, not the serializer, writes."""
    before = _state(org_a)
    r = api_alice.post("/api/v1/alerts/channels/", {"name": "mail", "kind": "email",
                                                    "config": {"addresses": ["ops@acme.example"]}}, format="json")
    assert r.status_code == 500  # the portal's error middleware answers for the unexpected failure
    assert _state(org_a) == before


# --- tasks are queued on commit, and only then ------------------------------------------------------

def test_the_rule_sync_is_queued_only_when_the_change_commits(
        api_alice: APIClient, org_a: Organization, queued: list[tuple[str, int]],
        django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        r = api_alice.post("/api/v1/alerts/rules/", RULE, format="json")
        assert r.status_code == 201, r.content
        assert queued == []  # inside the transaction: nothing sent to a worker yet
    assert queued == [] and len(callbacks) == 1
    callbacks[0]()
    assert queued == [("sync_org", org_a.pk)]
    rule = Rule.objects.for_org(org_a).get(pk=r.json()["id"])
    entry = AuditEntry.objects.for_org(org_a).get(object_type="rule", action="create")
    assert rule.sync_state == "pending" and entry.object_id == str(rule.pk) and entry.actor is not None


@pytest.mark.parametrize(("write", "task"), [
    ("rule create", "sync_org"), ("channel update with secrets", "sync_org"), ("rule delete", "sync_org"),
    ("scrape target create", "write_scrape_targets"), ("export create", "run_export"),
])
def test_each_write_queues_its_task_on_commit(
        write: str, task: str, org_a: Organization, actor: Actor, carol: Any, queued: list[tuple[str, int]],
        django_capture_on_commit_callbacks: Any) -> None:
    do = _writes(org_a, actor, carol)[write]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        do()
    assert queued == [] and callbacks
    for cb in callbacks:
        cb()
    assert [name for name, _ in queued] == [task] * len(callbacks)


@pytest.mark.parametrize("write", ["rule create", "channel update with secrets", "scrape target create",
                                   "export create", "notification policy"])
def test_no_task_is_queued_when_the_write_rolls_back(
        write: str, org_a: Organization, actor: Actor, carol: Any, queued: list[tuple[str, int]],
        django_capture_on_commit_callbacks: Any, audit_then_fail: None) -> None:
    do = _writes(org_a, actor, carol)[write]
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(Boom):
        do()
    assert callbacks == [] and queued == []


# --- serializers and views validate; only services audit, request syncs and queue tasks -----------------

APPS = ["alerts_app", "dashboards_app", "logs_app", "metrics_app", "metrics_in_app", "portal"]
# Modules allowed to make the calls besides `services.py` and `tasks.py`, and why.
ALLOWED = {
    "alerts_app/sync.py": "defines request_sync: the on_commit of the sync task",
    "portal/tenancy/writes.py": "the generic write service behind the org-scoped viewsets",
    "metrics_app/federation.py": "audits staff's cross-org reads where they are run",
    "portal/tenancy/security_events.py": "audits logins, token use and staff access where they happen",
    "portal/core/task_policy.py": "defines enqueue_on_commit: the one way to queue a task after commit",
}
SERIALIZER_WRITES = {"create", "update", "save"}


def _call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Attribute):
        owner = func.value
        prefix = owner.id if isinstance(owner, ast.Name) else owner.attr if isinstance(owner, ast.Attribute) else ""
        return f"{prefix}.{func.attr}"
    return func.id if isinstance(func, ast.Name) else ""


def _is_write_side_effect(name: str) -> bool:
    return (name in {"audit.record", "record", "audit.record_event", "transaction.on_commit", "on_commit",
                     "enqueue_on_commit"}
            or name.endswith(".request_sync") or name == "request_sync"
            or name.endswith(".delay") or name.endswith(".apply_async"))


def _modules() -> Iterator[tuple[str, ast.Module]]:
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if "/migrations/" in rel or "/management/" in rel:
                continue
            yield rel, source_ast.parse_file(path, rel)


def test_only_services_and_tasks_audit_request_syncs_or_queue_tasks() -> None:
    offenders = []
    scanned = 0
    for rel, tree in _modules():
        scanned += 1
        if Path(rel).name in ("services.py", "tasks.py") or rel in ALLOWED:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _is_write_side_effect(name := _call_name(node)):
                offenders.append(f"{rel}:{node.lineno} calls {name}")
    assert scanned > 50  # the scan really read the apps
    assert offenders == [], "move these into the app's service:\n" + "\n".join(offenders)


def test_serializers_do_not_write() -> None:
    """A serializer validates; `create`/`update`/`save` of its own would bypass the service."""
    offenders = []
    serializers_seen = 0
    for rel, tree in _modules():
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            bases = [b.attr if isinstance(b, ast.Attribute) else getattr(b, "id", "") for b in cls.bases]
            bases += [b.value.attr if isinstance(b.value, ast.Attribute) else getattr(b.value, "id", "")
                      for b in cls.bases if isinstance(b, ast.Subscript)]
            if not any(str(b).endswith("Serializer") for b in bases):
                continue
            serializers_seen += 1
            for fn in cls.body:
                if isinstance(fn, ast.FunctionDef) and fn.name in SERIALIZER_WRITES:
                    offenders.append(f"{rel}:{fn.lineno} {cls.name}.{fn.name}")
    assert serializers_seen > 10
    assert offenders == [], "serializers that write:\n" + "\n".join(offenders)


def test_the_scan_finds_a_write_outside_a_service(tmp_path: Path) -> None:
    """The scanner's own check: a serializer that requests a sync is caught."""
    source = ("class RuleSerializer(serializers.ModelSerializer):\n"
              "    def create(self, data):\n"
              "        sync.request_sync(data['org'])\n"
              "        transaction.on_commit(lambda: task.delay(1))\n")
    calls = [_call_name(n) for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Call)]
    assert [c for c in calls if _is_write_side_effect(c)] == ["sync.request_sync", "transaction.on_commit",
                                                              "task.delay"]
