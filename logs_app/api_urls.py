"""REST endpoints of this app, mounted under /api/v1/."""

from typing import Any

from django.urls import URLPattern, URLResolver, path
from drf_spectacular.utils import extend_schema, extend_schema_view

from logs_app import api


def _also_with_slash(route: str, view: Any, name: str) -> list[URLPattern]:
    """The documented route without a trailing slash, and the slash form (kept out of the schema)."""
    hidden: Any = extend_schema_view(get=extend_schema(exclude=True))(type(view.__name__ + "Slash", (view,), {}))
    return [path(route, view.as_view(), name=name), path(route + "/", hidden.as_view())]


urlpatterns: list[URLPattern | URLResolver] = [
    *_also_with_slash("logs/search", api.LogSearchView, "logs-search"),
    *_also_with_slash("logs/histogram", api.LogHistogramView, "logs-histogram"),
    *_also_with_slash("traces/search", api.TraceSearchView, "traces-search"),
    *_also_with_slash("traces/<str:trace_id>", api.TraceDetailView, "traces-detail"),
]

from logs_app.export_api import urlpatterns as _issue9_urls  # noqa: E402 - exports, context, tail, performance

urlpatterns += _issue9_urls
