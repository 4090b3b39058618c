"""The per-org Prometheus-compatible read API, mounted under /prometheus/api/v1/."""

from django.urls import URLPattern, URLResolver, path, register_converter

from . import prom_views


class AnyText:
    """Any text, empty or with slashes and newlines (`str` stops at "/", `path` at a newline): every
    label name reaches the view, which refuses a bad one with a 400 naming it rather than a 404."""

    regex = r"(?s:.*)"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(AnyText, "prom_any")

urlpatterns: list[URLPattern | URLResolver] = [
    path("query", prom_views.query, name="prom-query"),
    path("query_range", prom_views.query_range, name="prom-query-range"),
    path("series", prom_views.series, name="prom-series"),
    path("labels", prom_views.labels, name="prom-labels"),
    path("label/<prom_any:name>/values", prom_views.label_values, name="prom-label-values"),
    path("metadata", prom_views.metadata, name="prom-metadata"),
    path("status/buildinfo", prom_views.buildinfo, name="prom-buildinfo"),
]
