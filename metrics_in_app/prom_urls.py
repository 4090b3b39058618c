"""The per-org Prometheus-compatible write API (remote write), mounted under /prometheus/api/v1/."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
