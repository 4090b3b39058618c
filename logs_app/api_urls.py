"""REST endpoints of this app, mounted under /api/v1/."""

from typing import Any

from django.urls import URLPattern, URLResolver, path
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.routers import SimpleRouter

from logs_app import analytics_api, api, investigation_api, performance_api, trace_analysis_api
from logs_app.exports import api as exports_api
from logs_app.saved_searches import api as saved_searches_api


def _also_with_slash(route: str, view: Any, name: str) -> list[URLPattern]:
    """The documented route without a trailing slash, and the slash form (kept out of the schema)."""
    hidden: Any = extend_schema_view(get=extend_schema(exclude=True))(type(view.__name__ + "Slash", (view,), {}))
    return [path(route, view.as_view(), name=name), path(route + "/", hidden.as_view())]


_exports = SimpleRouter(trailing_slash=True)
_exports.register("exports/schedules", exports_api.ExportScheduleViewSet, basename="logs-export-schedule")
_exports.register("exports", exports_api.ExportViewSet, basename="logs-export")
_exports.register("logs/saved-searches", saved_searches_api.SavedSearchViewSet, basename="logs-saved-search")

urlpatterns: list[URLPattern | URLResolver] = [
    *_also_with_slash("logs/search", api.LogSearchView, "logs-search"),
    *_also_with_slash("logs/histogram", api.LogHistogramView, "logs-histogram"),
    *_also_with_slash("logs/facets", analytics_api.LogFacetsView, "logs-facets"),
    *_also_with_slash("logs/counts", analytics_api.LogCountsView, "logs-counts"),
    *_also_with_slash("traces/search", api.TraceSearchView, "traces-search"),
    *_also_with_slash("security/timeline", investigation_api.SecurityTimelineView, "security-timeline"),
    *_also_with_slash("security/staff-access", investigation_api.StaffAccessView, "security-staff-access"),
    *_also_with_slash("platform/security/timeline", investigation_api.PlatformSecurityTimelineView,
                      "platform-security-timeline"),
    *_also_with_slash("traces/exceptions", trace_analysis_api.TraceExceptionsView, "traces-exceptions"),
    *_also_with_slash("traces/compare", trace_analysis_api.TraceCompareView, "traces-compare"),
    *_also_with_slash("traces/<str:trace_id>", api.TraceDetailView, "traces-detail"),
    path("exports/download/<str:token>/", exports_api.download, name="logs-export-download"),
    *_exports.urls,
    path("logs/context/<str:record_id>/", api.LogContextView.as_view(), name="logs-context"),
    path("logs/tail/", api.LogTailView.as_view(), name="logs-tail"),
    path("performance/", performance_api.PerformanceView.as_view(), name="logs-performance"),
    path("performance/histogram/", performance_api.PerformanceHistogramView.as_view(),
         name="logs-performance-histogram"),
    path("service-map/", performance_api.ServiceMapView.as_view(), name="logs-service-map"),
    *_also_with_slash("services", performance_api.ServiceListView, "logs-services"),
    *_also_with_slash("services/<str:service>/summary", performance_api.ServiceSummaryView, "logs-service-summary"),
]
