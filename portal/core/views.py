from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from portal.errors import json_error
from portal.tenancy.auth import SESSION_ORG_KEY
from portal.tenancy.context import orgs_for


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Send the user to their current org, or say they have none yet."""
    orgs = orgs_for(request.user)
    slug = request.session.get(SESSION_ORG_KEY)
    chosen = next((o for o in orgs if o.slug == slug), orgs[0] if orgs else None)
    if chosen is None:
        return render(request, "core/no_org.html", status=200)
    return redirect("org-home", org_slug=chosen.slug)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return json_error(404, "not_found", str(exception) if exception else "Not found.")
    return render(request, "404.html", {"message": str(exception) if exception else ""}, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return json_error(500, "server_error", "Internal server error; it has been logged.")
    return render(request, "500.html", status=500)
