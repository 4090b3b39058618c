"""REST endpoints of this app, mounted under /api/v1/."""

from django.urls import URLPattern, URLResolver, path
from rest_framework.routers import SimpleRouter

from dashboards_app import api
from dashboards_app.prices import api as prices_api

router = SimpleRouter()
router.register("dashboards", api.DashboardViewSet, basename="dashboard")
router.register("model-prices", prices_api.ModelPriceViewSet, basename="model-price")

urlpatterns: list[URLPattern | URLResolver] = [
    path("builtin-dashboards/", api.BuiltinListView.as_view(), name="builtin-dashboard-list"),
    path("builtin-dashboards/<slug:slug>/", api.BuiltinDetailView.as_view(), name="builtin-dashboard-detail"),
    path("builtin-dashboards/<slug:slug>/data/", api.BuiltinDataView.as_view(), name="builtin-dashboard-data"),
    path("builtin-dashboards/<slug:slug>/clone/", api.BuiltinCloneView.as_view(), name="builtin-dashboard-clone"),
    path("explore/query/", api.ExploreQueryView.as_view(), name="explore-query"),
    path("explore/labels/", api.ExploreLabelsView.as_view(), name="explore-labels"),
    path("explore/labels/<str:name>/values/", api.ExploreLabelValuesView.as_view(), name="explore-label-values"),
    path("explore/history/", api.ExploreHistoryView.as_view(), name="explore-history"),
    *router.urls,
]
