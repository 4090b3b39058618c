"""Settings page: the org's scrape targets with their health, and how to send metrics in."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from metrics_in_app import services
from metrics_in_app.forms import ScrapeTargetForm
from metrics_in_app.models import ScrapeTarget
from portal.errors import ServiceError
from portal.tenancy.audit import actor_from
from portal.tenancy.models import Role
from portal.tenancy.views_base import org_view


@org_view(required_role=Role.VIEWER, write_role=Role.ADMIN)
def scrape_targets(request: HttpRequest) -> HttpResponse:
    ctx = request.org_ctx  # type: ignore[attr-defined]
    org = ctx.org
    form = ScrapeTargetForm()
    if request.method == "POST":
        if not ctx.is_admin:
            raise PermissionDenied("Scrape targets are managed by org admins.")
        op = request.POST.get("op", "create")
        if op == "create":
            form = ScrapeTargetForm(request.POST)
            if form.is_valid():
                try:
                    target = services.TARGETS.create(actor_from(request), org, form.attrs())
                except ServiceError as e:
                    form.add_error(None, e.message)
                else:
                    messages.success(request, f"Scrape target {target.name} added; Prometheus picks it up shortly.")
                    return redirect("metrics_in:scrape-targets", org_slug=org.slug)
        elif op in ("delete", "toggle"):
            target = get_object_or_404(ScrapeTarget.objects.for_org(org), pk=request.POST.get("id") or 0)
            if op == "delete":
                services.TARGETS.delete(actor_from(request), target)
                messages.success(request, f"Scrape target {target.name} removed.")
            else:
                services.TARGETS.update(actor_from(request), target, {"enabled": not target.enabled})
            return redirect("metrics_in:scrape-targets", org_slug=org.slug)
    return render(request, "metrics_in_app/scrape_targets.html", {
        "org": org, "form": form, "targets": services.targets_with_health(org),
        "limits": services.effective_limits(org),
        "base": f"{request.scheme}://{request.get_host()}",
    })
