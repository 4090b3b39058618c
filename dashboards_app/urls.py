"""Browser pages of this app, mounted under /o/<org_slug>/."""

from django.urls import URLPattern, URLResolver

app_name = "dashboards"
urlpatterns: list[URLPattern | URLResolver] = []
