"""The per-org Prometheus-compatible read API, mounted under /prometheus/api/v1/."""

from django.urls import URLPattern, URLResolver, path

from . import prom_views

urlpatterns: list[URLPattern | URLResolver] = [
    path("query", prom_views.query, name="prom-query"),
    path("query_range", prom_views.query_range, name="prom-query-range"),
    path("series", prom_views.series, name="prom-series"),
    path("labels", prom_views.labels, name="prom-labels"),
    path("label/<str:name>/values", prom_views.label_values, name="prom-label-values"),
    path("metadata", prom_views.metadata, name="prom-metadata"),
    path("status/buildinfo", prom_views.buildinfo, name="prom-buildinfo"),
]
