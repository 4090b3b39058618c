"""REST endpoints of this app, mounted under /api/v1/."""

from django.urls import URLPattern, URLResolver, re_path

from logs_app import api

urlpatterns: list[URLPattern | URLResolver] = [
    re_path(r"^logs/search/?$", api.LogSearchView.as_view(), name="logs-search"),
    re_path(r"^logs/histogram/?$", api.LogHistogramView.as_view(), name="logs-histogram"),
    re_path(r"^traces/search/?$", api.TraceSearchView.as_view(), name="traces-search"),
    re_path(r"^traces/(?P<trace_id>[^/]+)/?$", api.TraceDetailView.as_view(), name="traces-detail"),
]

from logs_app.export_api import urlpatterns as _issue9_urls  # noqa: E402 - exports, context, tail, performance

urlpatterns += _issue9_urls
