"""OTLP/HTTP receivers of this app, mounted under /otlp/v1/ (OTEL_EXPORTER_OTLP_ENDPOINT=http://host/otlp)."""

from django.urls import URLPattern, URLResolver, path

from logs_app.otlp import receivers

urlpatterns: list[URLPattern | URLResolver] = [
    path("logs", receivers.receive_logs, name="otlp-logs"),
    path("traces", receivers.receive_traces, name="otlp-traces"),
]
