"""Browser pages: dashboard list, one dashboard (custom or built-in), version history, Explore.

Thin: resolve the org (org_view), load through services (for_org), render; the page's JS talks to
/api/v1/ with the session and the X-Portal-Org header.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from dashboards_app import builtin, services
from dashboards_app.models import Dashboard
from portal.core.page_config import page_config
from portal.errors import ServiceError
from portal.tenancy.audit import actor_from
from portal.tenancy.context import OrgContext
from portal.tenancy.views_base import org_view


def _ctx(request: HttpRequest) -> OrgContext:
    return request.org_ctx  # type: ignore[attr-defined, no-any-return]


@org_view()
def dashboard_list(request: HttpRequest) -> HttpResponse:
    ctx = _ctx(request)
    dashboards = Dashboard.objects.for_org(ctx.org).only("uid", "title", "description", "tags", "version",
                                                          "updated_at")
    return render(request, "dashboards_app/list.html", {
        "org": ctx.org, "builtins": builtin.all_builtins(), "dashboards": dashboards,
        "page_config": page_config(request, "dashboard-list")})


@org_view(write_role="editor")
def dashboard_new(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return redirect("dashboards:list", org_slug=_ctx(request).org.slug)
    ctx = _ctx(request)
    title = (request.POST.get("title") or "").strip() or "New dashboard"
    try:
        dash = services.create_dashboard(ctx.org, {"title": title}, actor_from(request))
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("dashboards:list", org_slug=ctx.org.slug)
    return redirect(reverse("dashboards:detail", args=[ctx.org.slug, dash.uid]) + "?edit=1")


def _render_dashboard(request: HttpRequest, doc: dict[str, Any], **config: Any) -> HttpResponse:
    return render(request, "dashboards_app/dashboard.html", {
        "org": _ctx(request).org, "doc": doc, "page_config": page_config(request, "dashboard", doc=doc, **config)})


@org_view()
def dashboard_detail(request: HttpRequest, uid: str) -> HttpResponse:
    dash = _or_404(lambda: services.get_dashboard(_ctx(request).org, uid))
    return _render_dashboard(request, dash.spec, uid=dash.uid, version=dash.version, builtin=False)


@org_view()
def builtin_detail(request: HttpRequest, slug: str) -> HttpResponse:
    doc = _or_404(lambda: services.get_builtin(slug))
    return _render_dashboard(request, doc, slug=slug, builtin=True)


@org_view()
def dashboard_versions(request: HttpRequest, uid: str) -> HttpResponse:
    ctx = _ctx(request)
    dash = _or_404(lambda: services.get_dashboard(ctx.org, uid))
    if request.method == "POST":  # restore (editor: enforced by org_view's write_role)
        try:
            services.restore_version(ctx.org, uid, int(request.POST.get("version", "0")), actor_from(request))
            messages.success(request, f"Restored version {request.POST.get('version')}.")
        except (ServiceError, ValueError) as exc:
            messages.error(request, getattr(exc, "message", str(exc)))
        return redirect("dashboards:versions", org_slug=ctx.org.slug, uid=uid)
    diff = None
    a, b = request.GET.get("from"), request.GET.get("to")
    if a and b:
        try:
            diff = services.diff_versions(ctx.org, uid, int(a), int(b))
        except (ServiceError, ValueError) as exc:
            messages.error(request, getattr(exc, "message", str(exc)))
    return render(request, "dashboards_app/versions.html", {
        "org": ctx.org, "dash": dash, "versions": services.versions(ctx.org, uid), "diff": diff,
        "can_edit": ctx.can_write})


@org_view()
def explore(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboards_app/explore.html", {
        "org": _ctx(request).org,
        "page_config": page_config(request, "explore", query=request.GET.get("query", ""),
                                   start=request.GET.get("from", "now-1h"), end=request.GET.get("to", "now"))})


def _or_404(fn: Any) -> Any:
    from django.http import Http404

    try:
        return fn()
    except ServiceError as exc:
        if exc.status_code == 404:
            raise Http404(exc.message) from None
        raise
