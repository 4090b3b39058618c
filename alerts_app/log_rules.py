"""Log-based rules: "at least N records matching a log search in the last W minutes". Evaluated on a
beat schedule against the log store and posted to Alertmanager API v2 with the org label, so they route
like any other alert (and resolve when the count drops)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, Protocol

from django.utils import timezone

from metrics_app.labels import one_lookup, org_label
from portal.backends.alertmanager import AlertmanagerClient
from portal.backends.errors import BackendTimeout, BackendUnavailable
from portal.tenancy.models import Organization

from . import render
from .models import Rule, RuleKind

log = logging.getLogger(__name__)


class LogCounter(Protocol):
    def count(self, org: Organization, query: str, start: datetime, end: datetime) -> int: ...


def default_store() -> LogCounter:
    from logs_app.store import get_store

    store: LogCounter = get_store()
    return store


def alert_for(rule: Rule, org: Organization, count: int, now: datetime, firing: bool) -> dict[str, Any]:
    channel_ids = list(rule.channels.values_list("id", flat=True))
    labels = {**rule.labels, "alertname": render._alert_name(rule.name), "severity": rule.severity,
              render.RULE_LABEL: str(rule.pk), render.NOTIFY_LABEL: render.notify_value(channel_ids)}
    label, value = org_label(org)
    labels[label] = value
    annotations = {**rule.annotations, "log_count": str(count),
                   "log_query": rule.log_query, "window": f"{rule.log_window_minutes}m"}
    alert: dict[str, Any] = {"labels": labels, "annotations": annotations,
                             "startsAt": (rule.log_firing_since or now).isoformat()}
    # A firing alert is re-posted every evaluation with an end a few windows ahead; a resolved one ends now.
    alert["endsAt"] = (now + timedelta(minutes=max(3, rule.log_window_minutes))).isoformat() if firing \
        else min(now, timezone.now()).isoformat()
    return alert


def evaluate(rule: Rule, store: LogCounter, am: AlertmanagerClient, now: datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    org = rule.org
    count = store.count(org, rule.log_query, now - timedelta(minutes=rule.log_window_minutes), now)
    firing = count >= rule.log_count
    was_firing = rule.log_firing_since is not None
    if firing and not was_firing:
        rule.log_firing_since = now
        Rule.objects.for_org(org).filter(pk=rule.pk).update(log_firing_since=now)
    if firing or was_firing:
        am.post_alerts(*org_label(org), [alert_for(rule, org, count, now, firing)])
    if not firing and was_firing:
        Rule.objects.for_org(org).filter(pk=rule.pk).update(log_firing_since=None)
    return {"rule": rule.pk, "count": count, "firing": firing}


def evaluate_all(store: LogCounter | None = None, am: AlertmanagerClient | None = None) -> dict[str, Any]:
    """Evaluate every enabled log rule, each on its own: a rule that fails (a search stored before save
    checks existed, a store error) is marked with `log_error` and the others still evaluate and fire."""
    store = store or default_store()
    am = am or AlertmanagerClient()
    results = []
    errors = 0
    with one_lookup():  # every rule below asks for its org label
        # Fan-out over every org: the one place this app reads across orgs on purpose.
        for rule in Rule.objects.all_orgs().filter(kind=RuleKind.LOG, enabled=True).select_related("org"):
            try:
                results.append(evaluate(rule, store, am))
            except (BackendUnavailable, BackendTimeout):
                errors += 1  # Alertmanager down: no rule's fault, nothing to mark
                continue
            except Exception as exc:  # noqa: BLE001 - one org's broken rule must not stop every org's alerting
                errors += 1
                message = f"log search failed: {getattr(exc, 'message', None) or exc}"[:4000]
                log.warning("log rule %s of org %s: %s", rule.pk, rule.org_id, message)
                if rule.log_error != message:
                    Rule.objects.all_orgs().filter(pk=rule.pk).update(log_error=message)
                continue
            if rule.log_error:
                Rule.objects.all_orgs().filter(pk=rule.pk).update(log_error="")
    return {"evaluated": len(results), "firing": sum(1 for r in results if r["firing"]), "errors": errors}
