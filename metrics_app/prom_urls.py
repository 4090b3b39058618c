"""The per-org Prometheus-compatible read API, mounted under /prometheus/api/v1/."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
