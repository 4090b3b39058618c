"""REST endpoints of this app, mounted under /api/v1/."""

from django.urls import URLPattern, URLResolver, path
from rest_framework.routers import SimpleRouter

from metrics_in_app import api, relay

router = SimpleRouter(trailing_slash=True)
router.register("scrape-targets", api.ScrapeTargetViewSet, basename="scrape-target")

urlpatterns: list[URLPattern | URLResolver] = [
    path("metrics-in/limits/", api.IngestLimitsView.as_view(), name="metrics-in-limits"),
    path("metrics-in/relay/<str:token>/", relay.scrape_relay, name="metrics-in-scrape-relay"),
    *router.urls,
]
