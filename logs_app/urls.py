"""Browser pages of this app, mounted under /o/<org_slug>/."""

from django.urls import URLPattern, URLResolver, path

from logs_app import views

app_name = "logs"
urlpatterns: list[URLPattern | URLResolver] = [
    path("logs/", views.logs_page, name="logs"),
    path("logs/tail/stream/", views.tail_stream, name="tail-stream"),
    path("traces/", views.traces_page, name="traces"),
    path("traces/<str:trace_id>/", views.trace_page, name="trace"),
    path("performance/", views.performance_page, name="performance"),
    path("exports/", views.exports_page, name="exports"),
]
