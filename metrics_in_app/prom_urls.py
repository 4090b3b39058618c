"""The per-org Prometheus-compatible write API (remote write), mounted under /prometheus/api/v1/."""

from django.urls import URLPattern, URLResolver, path

from metrics_in_app import receivers

urlpatterns: list[URLPattern | URLResolver] = [
    path("write", receivers.remote_write, name="prometheus-remote-write"),
]
