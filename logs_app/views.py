"""Browser pages: logs explorer, traces (search, service map, waterfall), exports (services: service_views.py).

The pages are thin shells: their scripts call the org-scoped REST API (`/api/v1/…`) with the session and
`X-Portal-Org`, so the browser sees exactly what an API client sees. Non-members get 404 from org_view.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render

from logs_app import tail
from portal.core.page_config import page_config
from portal.errors import ServiceError, json_error
from portal.tenancy.context import context_for
from portal.tenancy.models import Role
from portal.tenancy.views_base import org_view

_TRACE_ID = re.compile(r"^[0-9a-fA-F]{32}\Z")


def _page(request: HttpRequest, template: str, active: str, **extra: object) -> HttpResponse:
    org = request.org_ctx.org  # type: ignore[attr-defined]
    config = page_config(request, template.removesuffix(".html"), **extra)
    return render(request, f"logs_app/{template}", {"org": org, "active": active, "page_config": config, **extra})


@org_view()
def logs_page(request: HttpRequest) -> HttpResponse:
    return _page(request, "logs.html", active="logs")


@org_view()
def traces_page(request: HttpRequest) -> HttpResponse:
    return _page(request, "traces.html", active="traces")


@org_view()
def trace_page(request: HttpRequest, trace_id: str) -> HttpResponse:
    """The waterfall page; the trace itself is loaded by the API (another org's id → 404 there too)."""
    from logs_app.store import get_store

    if not _TRACE_ID.match(trace_id) or get_store().get_trace(request.org_ctx.org, trace_id.lower()) is None:  # type: ignore[attr-defined]
        raise Http404("Trace not found.")
    return _page(request, "trace.html", active="traces", trace_id=trace_id.lower())


@org_view()
def exceptions_page(request: HttpRequest) -> HttpResponse:
    return _page(request, "exceptions.html", active="exceptions")


@org_view()
def compare_page(request: HttpRequest) -> HttpResponse:
    """Two traces side by side (?a=&b=); either one unknown in this org → 404, as for one trace."""
    from logs_app.store import get_store

    ids = [request.GET.get(k, "").lower() for k in ("a", "b")]
    for trace_id in ids:
        if not _TRACE_ID.match(trace_id) or get_store().get_trace(request.org_ctx.org, trace_id) is None:  # type: ignore[attr-defined]
            raise Http404("Trace not found.")
    return _page(request, "trace_compare.html", active="traces", trace_a=ids[0], trace_b=ids[1])


@org_view(required_role=Role.ADMIN)
def security_page(request: HttpRequest) -> HttpResponse:
    """Security investigation: a timeline per user, address or API key, and staff access (org admins)."""
    return _page(request, "security.html", active="security")


@org_view()
def exports_page(request: HttpRequest) -> HttpResponse:
    return _page(request, "exports.html", active="exports")


@org_view()
def tail_stream(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """Live tail as server-sent events for the logs page (EventSource resends the cursor as Last-Event-ID)."""
    cursor = request.META.get("HTTP_LAST_EVENT_ID") or request.GET.get("cursor") or None
    try:
        seconds = min(max(float(request.GET.get("seconds", tail.STREAM_SECONDS)), 0.0), tail.STREAM_SECONDS)
    except ValueError:
        seconds = tail.STREAM_SECONDS
    try:
        events = tail.stream(request.org_ctx.org, request.GET.get("q", ""), cursor, seconds,  # type: ignore[attr-defined]
                             still_allowed=_viewer_still_allowed(request))
    except ServiceError as e:
        return json_error(e.status_code, e.code, e.message, e.details)
    response = StreamingHttpResponse(events, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # let a fronting nginx pass events through unbuffered
    return response


def _viewer_still_allowed(request: HttpRequest) -> Callable[[], bool]:
    """For the open stream: is its viewer still an active member of the org, with the same session?"""
    org = request.org_ctx.org  # type: ignore[attr-defined]
    user_id, session_key, store = int(request.user.pk or 0), request.session.session_key, request.session

    def check() -> bool:
        user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
        if user is None or context_for(user, org) is None:
            return False
        return session_key is None or store.exists(session_key)

    return check
