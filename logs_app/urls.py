"""Browser pages of this app, mounted under /o/<org_slug>/."""

from django.urls import URLPattern, URLResolver, path

from logs_app import service_views, views

app_name = "logs"
urlpatterns: list[URLPattern | URLResolver] = [
    path("logs/", views.logs_page, name="logs"),
    path("logs/tail/stream/", views.tail_stream, name="tail-stream"),
    path("traces/", views.traces_page, name="traces"),
    path("traces/exceptions/", views.exceptions_page, name="exceptions"),
    path("traces/compare/", views.compare_page, name="trace-compare"),
    path("traces/<str:trace_id>/", views.trace_page, name="trace"),
    path("performance/", service_views.services_page, name="performance"),  # the services list took its place
    path("services/", service_views.services_page, name="services"),
    path("services/<str:service>/", service_views.service_detail_page, name="service"),
    path("exports/", views.exports_page, name="exports"),
    path("security/", views.security_page, name="security"),
]
