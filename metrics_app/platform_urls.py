"""Staff pages of this app, mounted under /platform/."""

from django.urls import URLPattern, URLResolver, path

from .platform_views import PlatformSeriesPage

urlpatterns: list[URLPattern | URLResolver] = [
    path("platform-series/", PlatformSeriesPage.as_view(), name="platform-series-page"),
]
