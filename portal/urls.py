from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from portal.core import health
from portal.core import views as core_views
from portal.tenancy import urls as tenancy_urls

ORG_APPS = ["dashboards_app", "alerts_app", "logs_app", "metrics_app", "metrics_in_app"]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics_view, name="metrics"),
    path("", core_views.home, name="home"),
    path("accounts/", include(tenancy_urls.account_patterns)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/", include(tenancy_urls.api_patterns)),
    *[path("api/v1/", include(f"{app}.api_urls")) for app in ORG_APPS],
    path("prometheus/api/v1/", include("metrics_app.prom_urls")),
    path("prometheus/api/v1/", include("metrics_in_app.prom_urls")),
    path("otlp/v1/", include("logs_app.otlp_urls")),
    path("otlp/v1/", include("metrics_in_app.otlp_urls")),
    path("hooks/", include("alerts_app.hook_urls")),  # alerts_app: signed inbound Alertmanager webhooks
    path("platform/", include(tenancy_urls.platform_patterns)),
    path("platform/", include("dashboards_app.prices.urls")),  # staff: model price table
    path("platform/", include("metrics_app.platform_urls")),  # staff: platform series
    path("o/<slug:org_slug>/", include(tenancy_urls.org_patterns)),
    *[path("o/<slug:org_slug>/", include(f"{app}.urls")) for app in ORG_APPS],
]

handler404 = "portal.core.views.not_found"
handler500 = "portal.core.views.server_error"
