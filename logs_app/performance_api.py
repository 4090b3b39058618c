"""REST endpoints of the performance views, mounted under /api/v1/ by logs_app/api_urls.py:
`performance/` (per service + endpoint latency percentiles), `performance/histogram/`, `service-map/`,
`services/` (the services list) and `services/<service>/summary` (one service's page)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from logs_app import performance, service_page
from portal.errors import ServiceError
from portal.tenancy.api_base import OrgAPIView


class PerformanceView(OrgAPIView):
    """Per service + endpoint: count, throughput (req/s), error rate, p50/p95/p99 (ms), over a window;
    `slowest` lists the endpoints by p95."""

    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        window = performance.window_from(request.query_params)
        report = performance.analyse(self.org, window, service=request.query_params.get("service", ""))
        return Response(report.as_dict())


class PerformanceHistogramView(OrgAPIView):
    """The latency histogram (ms buckets) of one endpoint: `service` and `endpoint` are required."""

    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        service = request.query_params.get("service", "")
        endpoint = request.query_params.get("endpoint", "")
        if not service or not endpoint:
            raise ServiceError(400, "invalid", "service and endpoint are required.")
        window = performance.window_from(request.query_params)
        return Response(performance.latency_histogram(self.org, window, service, endpoint))


class ServiceMapView(OrgAPIView):
    """Services as nodes, calls (a child span in another service than its parent) as edges."""

    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        window = performance.window_from(request.query_params)
        return Response(performance.service_map(self.org, window))


class ServiceListView(OrgAPIView):
    """Every service that served a request in the window, with requests, error share, rate and p50/p95/p99."""

    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        return Response(service_page.services(self.org, performance.window_from(request.query_params)))


class ServiceSummaryView(OrgAPIView):
    """One service over a window: totals and buckets (rate, error share, p50/p95/p99), top endpoints, slowest
    operations, slowest and failed traces, recent error logs, active alerts, dashboards, metrics request
    rate. A service the org never sent telemetry of is 404."""

    @extend_schema(responses={200: dict})
    def get(self, request: Request, service: str) -> Response:
        window = performance.window_from(request.query_params)
        return Response(service_page.summary(self.org, service, window))
