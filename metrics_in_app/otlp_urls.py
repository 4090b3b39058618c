"""OTLP/HTTP receivers of this app, mounted under /otlp/v1/."""

from django.urls import URLPattern, URLResolver, path

from metrics_in_app import receivers

urlpatterns: list[URLPattern | URLResolver] = [
    path("metrics", receivers.otlp_metrics, name="otlp-metrics"),
]
