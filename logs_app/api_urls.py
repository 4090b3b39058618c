"""REST endpoints of this app, mounted under /api/v1/."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []

from logs_app.export_api import urlpatterns as _issue9_urls  # noqa: E402 - exports, context, tail, performance

urlpatterns += _issue9_urls
