"""REST endpoints of this app, mounted under /api/v1/: staff-managed datasources."""

from django.urls import URLPattern, URLResolver
from rest_framework.routers import SimpleRouter

from .api import DatasourceViewSet
from .platform_api import PlatformSeriesViewSet

router = SimpleRouter()
router.register("datasources", DatasourceViewSet, basename="datasource")
router.register("platform-series", PlatformSeriesViewSet, basename="platform-series")

urlpatterns: list[URLPattern | URLResolver] = [*router.urls]
