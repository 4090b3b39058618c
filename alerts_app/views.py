"""Browser pages under /o/<org_slug>/alerts/. Pages render the shell; the forms talk to the REST API
(session + X-Portal-Org), so the browser and scripts go through the same validation and audit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from portal.core.page_config import page_config
from portal.errors import ServiceError
from portal.tenancy.models import Organization
from portal.tenancy.views_base import org_view

from . import links, services, sync
from .catalog import TEMPLATES
from .models import Channel, Rule, Severity


def _from_backend(read: Callable[[Organization], list[dict[str, Any]]],
                  org: Organization) -> tuple[list[dict[str, Any]], str]:
    """What Alertmanager answered, or nothing and the reason it could not (the page shows it in place)."""
    try:
        return read(org), ""
    except ServiceError as exc:
        return [], exc.message


@org_view()
def alert_list(request: HttpRequest) -> HttpResponse:
    org = request.org_ctx.org  # type: ignore[attr-defined]
    alerts, backend_error = _from_backend(services.active_alerts, org)
    counts = {s: 0 for s in Severity.values}
    for a in alerts:
        sev = a.get("labels", {}).get("severity", "")
        counts[sev] = counts.get(sev, 0) + 1
    rules = Rule.objects.for_org(org).order_by("name")
    history = services.history(org, 50)
    # Each alert and notification links to its rule, its expression in Explore and its service's signals.
    named = links.rules_of(org, [*alerts, *history])
    for a in alerts:
        a["links"] = links.for_alert(org, a.get("labels") or {}, a.get("startsAt"), named)
    for e in history:
        e["links"] = links.for_alert(org, e["labels"], e["starts_at"], named, e["ends_at"])
    return render(request, "alerts_app/list.html", {
        "org": org, "alerts": alerts, "counts": counts, "backend_error": backend_error, "rules": rules,
        "history": history, "status": sync.org_sync_status(org),
        "page_config": page_config(request, "alerts")})


@org_view()
def rule_editor(request: HttpRequest, rule_id: int | None = None) -> HttpResponse:
    org = request.org_ctx.org  # type: ignore[attr-defined]
    rule = None
    if rule_id is not None:
        rule = Rule.objects.for_org(org).filter(pk=rule_id).first()
        if rule is None:
            raise Http404("Rule not found.")
    channels = list(Channel.objects.for_org(org).values("id", "name", "kind"))
    return render(request, "alerts_app/rule_editor.html", {
        "org": org, "rule": rule, "page_config": page_config(
            request, "alert-rule", rule_id=rule.pk if rule else None, channels=channels,
            templates=[t.as_dict() for t in TEMPLATES.values()])})


@org_view()
def channel_list(request: HttpRequest) -> HttpResponse:
    org = request.org_ctx.org  # type: ignore[attr-defined]
    return render(request, "alerts_app/channels.html", {
        "org": org, "channels": Channel.objects.for_org(org),
        "page_config": page_config(request, "alert-channels")})


@org_view()
def silence_list(request: HttpRequest) -> HttpResponse:
    org = request.org_ctx.org  # type: ignore[attr-defined]
    silences, backend_error = _from_backend(services.list_silences, org)
    return render(request, "alerts_app/silences.html", {
        "org": org, "silences": silences, "backend_error": backend_error,
        "page_config": page_config(request, "alert-silences")})
