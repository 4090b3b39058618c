"""Writes of the alerting app: each change is committed with its audit entry, then a sync is queued."""

from __future__ import annotations

import math
import time
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from metrics_app import federation
from metrics_app.labels import org_label
from portal.backends.alertmanager import AlertmanagerClient
from portal.backends.errors import BackendError, BackendRejected, BackendTimeout, BackendUnavailable
from portal.errors import ServiceError, backend_not_configured
from portal.tenancy import audit
from portal.tenancy.audit import Actor
from portal.tenancy.models import Organization
from portal.tenancy.writes import ModelWrites

from . import importer, notify, secrets, sync
from .models import AlertEvent, Channel, NotificationPolicy, RecordingRule, Rule, RuleKind
from .validation import RuleInvalid, rule_expression, validate_rule


def backend_error(exc: BackendError) -> ServiceError:
    return ServiceError(503, "backend_unavailable", str(exc), {"backend": exc.backend})


def check_rule(org: Organization, data: dict[str, Any]) -> None:
    try:
        validate_rule(org, data)
    except RuleInvalid as exc:
        raise ServiceError(400, exc.code, exc.message,
                           {"field": exc.field, "errors": exc.errors, **exc.extra}) from exc


class RuleWrites(ModelWrites[Rule]):
    """A rule change marks the rule pending and queues the org's sync, in the change's transaction."""

    def changed(self, actor: Actor, org: Organization, obj: Rule | None) -> None:
        sync.request_sync(org, [int(obj.pk)] if obj is not None else None)


class RecordingRuleWrites(ModelWrites[RecordingRule]):
    def changed(self, actor: Actor, org: Organization, obj: RecordingRule | None) -> None:
        sync.request_sync(org)


class ChannelWrites(ModelWrites[Channel]):
    """Secrets arrive under `secrets`, are merged into the stored ones and encrypted; never audited."""

    def assign(self, obj: Channel, data: dict[str, Any]) -> None:
        secret_values = data.pop("secrets", None)
        super().assign(obj, data)
        if secret_values or obj.pk is None:
            secrets.write(obj, secret_values or {})

    def changed(self, actor: Actor, org: Organization, obj: Channel | None) -> None:
        sync.request_sync(org)


RULES = RuleWrites(Rule)
RECORDING_RULES = RecordingRuleWrites(RecordingRule)
CHANNELS = ChannelWrites(Channel)


def import_rules(actor: Actor, org: Organization, text: str) -> dict[str, int]:
    """Save a Prometheus rule file's rules (all or none), audited, and queue the org's sync."""
    alerts, records = importer.rules_from_file(org, text)
    result = {"alerting": len(alerts), "recording": len(records)}
    with transaction.atomic():
        created = Rule.objects.all_orgs().bulk_create(alerts)
        RecordingRule.objects.all_orgs().bulk_create(records)
        sync.request_sync(org, [int(r.pk) for r in created if r.pk])
        audit.record(actor, "import_rules", org, result, org=org)
    return result


def resync(org: Organization) -> None:
    """Mark every rule of the org pending and queue a sync (the operator's "sync now")."""
    with transaction.atomic():
        sync.request_sync(org, list(Rule.objects.for_org(org).values_list("id", flat=True)))


def get_policy(org: Organization) -> NotificationPolicy:
    policy = NotificationPolicy.objects.for_org(org).first()
    return policy or NotificationPolicy(org=org)


def save_policy(actor: Actor, org: Organization, values: dict[str, Any]) -> NotificationPolicy:
    with transaction.atomic():
        policy = NotificationPolicy.objects.for_org(org).select_for_update().first() or NotificationPolicy(org=org)
        before = audit.snapshot(policy) if policy.pk else {}
        for key, value in values.items():
            setattr(policy, key, value)
        policy.save()
        audit.record(actor, "update", policy, audit.diff(before, audit.snapshot(policy)))
        sync.request_sync(org)
    return policy


def test_channel(actor: Actor, org: Organization, channel: Channel) -> dict[str, Any]:
    result = notify.send_test(channel)
    audit.record(actor, "test_notify", channel, {"ok": result["ok"], "status": result["status"]})
    return result


# --- active alerts and silences (Alertmanager API v2, org matcher forced in the client) -------------

def not_configured(backend: str) -> ServiceError:
    return backend_not_configured(backend, f"{backend} is not configured on this portal "
                                           f"({backend.upper()}_URL is unset)")


def active_alerts(org: Organization) -> list[dict[str, Any]]:
    am = AlertmanagerClient()
    if not am.configured:
        return []  # nothing can be firing where no Alertmanager is configured
    try:
        return am.alerts(*org_label(org))
    except (BackendUnavailable, BackendTimeout) as exc:
        raise backend_error(exc) from exc


def list_silences(org: Organization) -> list[dict[str, Any]]:
    am = AlertmanagerClient()
    if not am.configured:
        return []
    try:
        return am.silences(*org_label(org))
    except (BackendUnavailable, BackendTimeout) as exc:
        raise backend_error(exc) from exc


def create_silence(actor: Actor, org: Organization, matchers: list[dict[str, Any]], duration_minutes: int,
                   comment: str) -> str:
    if not matchers:
        raise ServiceError(400, "invalid", "matchers: at least one matcher", {"field": "matchers"})
    label, value = org_label(org)
    for m in matchers:
        if m.get("name") == label:
            raise ServiceError(400, "invalid", f"matchers: {label} is set by the portal",
                               {"field": "matchers"})
    now = timezone.now()
    body = {"matchers": [{"name": str(m["name"]), "value": str(m.get("value", "")),
                          "isRegex": bool(m.get("isRegex", False)), "isEqual": bool(m.get("isEqual", True))}
                         for m in matchers],
            "startsAt": now.isoformat(), "endsAt": (now + timedelta(minutes=duration_minutes)).isoformat(),
            "createdBy": getattr(actor.user, "email", "") or "portal", "comment": comment or "created in the portal"}
    am = AlertmanagerClient()
    if not am.configured:
        raise not_configured("alertmanager")
    try:
        sid = am.create_silence(label, value, body)
    except (BackendUnavailable, BackendTimeout) as exc:
        raise backend_error(exc) from exc
    except BackendRejected as exc:
        raise ServiceError(400, "invalid_silence", exc.message, {"field": "matchers"}) from exc
    audit.record(actor, "create_silence", org, {"silence_id": sid, "matchers": body["matchers"]}, org=org)
    return sid


def expire_silence(actor: Actor, org: Organization, silence_id: str) -> None:
    am = AlertmanagerClient()
    if not am.configured:
        raise not_configured("alertmanager")
    try:
        ok = am.expire_silence(*org_label(org), silence_id)
    except (BackendUnavailable, BackendTimeout) as exc:
        raise backend_error(exc) from exc
    except BackendRejected as exc:
        raise ServiceError(404, "not_found", "Silence not found.") from exc
    if not ok:
        raise ServiceError(404, "not_found", "Silence not found.")
    audit.record(actor, "expire_silence", org, {"silence_id": silence_id}, org=org)


def history(org: Organization, limit: int = 200) -> list[dict[str, Any]]:
    return [e.as_dict() for e in AlertEvent.objects.for_org(org)[:limit]]


# --- preview ---------------------------------------------------------------------------------------

def preview(org: Organization, data: dict[str, Any], hours: int = 24, points: int = 240) -> dict[str, Any]:
    """The rule's metric over the last `hours` with the threshold and the spans where it would have fired
    (ignoring `for`, which the chart notes)."""
    kind = data.get("kind", RuleKind.THRESHOLD)
    if kind == RuleKind.LOG:
        raise ServiceError(400, "invalid", "kind: log rules have no metric preview", {"field": "kind"})
    field = "query" if kind == RuleKind.THRESHOLD else "expr"
    if not str(data.get(field, "")).strip():
        raise ServiceError(400, "invalid", f"{field}: required", {"field": field})
    rule = Rule(org=org, kind=kind, query=data.get("query", ""), expr=data.get("expr", ""),
                comparator=data.get("comparator", ">"), threshold=data.get("threshold"))
    shown = rule.query if kind == RuleKind.THRESHOLD else rule.expr
    # At most a minute between points, so the newest point always falls within Prometheus's 5-minute
    # lookback of a sample written just now; federation aligns ranges to the step (shared cache entries),
    # so the range ends on the next step boundary rather than up to one step behind.
    step = max(15.0, min(60.0, hours * 3600 / points))
    end = math.ceil(time.time() / step) * step
    start = end - hours * 3600
    # Through federation, like any other read: the org's datasource, its guards and cache, and
    # X-Scope-OrgID for multi-tenant backends.
    try:
        series = federation.query_range(org, shown, start, end, step)["result"]
        firing = (federation.query_range(org, rule_expression(org, rule), start, end, step)["result"]
                  if kind == RuleKind.THRESHOLD else series)
    except ServiceError as exc:
        if exc.status_code == 400:
            details = {**(exc.details or {}), "field": field}
            raise ServiceError(400, exc.code, f"{field}: {exc.message}", details) from exc
        raise
    return {"series": [{"labels": s["metric"], "points": [[float(t), float(v)] for t, v in s["values"]]}
                       for s in series[:20]],
            "threshold": rule.threshold if kind == RuleKind.THRESHOLD else None,
            "firing_spans": _spans(firing, step), "start": start, "end": end, "step": step}


def _spans(series: list[dict[str, Any]], step: float) -> list[list[float]]:
    times = sorted({float(t) for s in series for t, _ in s["values"]})
    spans: list[list[float]] = []
    for t in times:
        if spans and t - spans[-1][1] <= step * 1.5:
            spans[-1][1] = t
        else:
            spans.append([t, t])
    return spans
