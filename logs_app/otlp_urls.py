"""OTLP/HTTP receivers of this app, mounted under /otlp/v1/."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
