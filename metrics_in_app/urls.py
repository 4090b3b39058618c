"""Browser pages of this app, mounted under /o/<org_slug>/."""

from django.urls import URLPattern, URLResolver, path

from metrics_in_app import views

app_name = "metrics_in"
urlpatterns: list[URLPattern | URLResolver] = [
    path("settings/scrape-targets/", views.scrape_targets, name="scrape-targets"),
]
