"""Browser pages of the services: the list (also served at the old performance URL) and one service's page.

Thin shells like the other telemetry pages: their scripts read `/api/v1/services/…` with the session. The
service page answers 404 for a service the org never sent telemetry of (another org's included).
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from logs_app import service_page
from portal.core.page_config import page_config
from portal.errors import ServiceError
from portal.tenancy.views_base import org_view


@org_view()
def services_page(request: HttpRequest) -> HttpResponse:
    org = request.org_ctx.org  # type: ignore[attr-defined]
    return render(request, "logs_app/services.html", {"org": org, "active": "services",
                                                      "page_config": page_config(request, "services")})


@org_view()
def service_detail_page(request: HttpRequest, service: str) -> HttpResponse:
    org = request.org_ctx.org  # type: ignore[attr-defined]
    try:
        service_page.require_service(org, service)
    except ServiceError as e:
        raise Http404(e.message) from e
    config = page_config(request, "service", service=service)
    return render(request, "logs_app/service.html", {"org": org, "active": "services", "service": service,
                                                     "page_config": config})
