"""REST endpoints of trace analysis: exceptions grouped by type and service, and two traces compared."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from logs_app import services, trace_analysis
from logs_app.store.exceptions import ExceptionReport
from portal.core import params
from portal.tenancy.api_base import OrgAPIView

_Q = OpenApiParameter("q", str, description="Span query narrowing the spans looked at, e.g. `service=api-router`.")
_START = OpenApiParameter("start", str, description="RFC 3339, Unix seconds or `now-1h` (default: end - 1h).")
_END = OpenApiParameter("end", str, description="RFC 3339, Unix seconds or `now` (default: now).")


class ExceptionExampleSerializer(serializers.Serializer[Any]):
    trace_id = serializers.CharField()
    span_id = serializers.CharField()
    span_name = serializers.CharField()
    time = serializers.DateTimeField()
    message = serializers.CharField()


class ExceptionGroupSerializer(serializers.Serializer[Any]):
    type = serializers.CharField(help_text="exception.type of the span event.")
    service = serializers.CharField()
    count = serializers.IntegerField()
    series = serializers.ListField(child=serializers.IntegerField(), help_text="Count per bucket, oldest first.")
    last_seen = serializers.DateTimeField()
    examples = ExceptionExampleSerializer(many=True)


class ExceptionReportSerializer(serializers.Serializer[Any]):
    org = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    step_ms = serializers.FloatField()
    total = serializers.IntegerField()
    groups = ExceptionGroupSerializer(many=True)


class TraceExceptionsView(OrgAPIView):
    @extend_schema(
        operation_id="traces_exceptions", tags=["traces"], responses=ExceptionReportSerializer,
        parameters=[_Q, _START, _END, OpenApiParameter("buckets", int, description="1-500, default 60.")],
        summary="Exception span events grouped by exception type and service, with counts over time.",
    )
    def get(self, request: Request) -> Response:
        p = request.query_params
        buckets = params.parse_int(p.get("buckets"), "buckets", default=60, minimum=1, maximum=services.MAX_BUCKETS)
        s, report = services.exceptions(self.org_ctx, p.get("q", ""), p.get("start"), p.get("end"), buckets)
        assert isinstance(report, ExceptionReport)
        return Response({"org": s.org.slug, "start": s.start, "end": s.end, "step_ms": report.step_ms,
                         "total": report.total, "groups": [asdict(g) for g in report.groups]})


class OperationDiffSerializer(serializers.Serializer[Any]):
    service = serializers.CharField()
    name = serializers.CharField()
    count_a = serializers.IntegerField()
    count_b = serializers.IntegerField()
    total_ms_a = serializers.FloatField()
    total_ms_b = serializers.FloatField()
    self_ms_a = serializers.FloatField()
    self_ms_b = serializers.FloatField()
    self_delta_ms = serializers.FloatField(help_text="Self time in B minus self time in A.")


class TraceComparisonSerializer(serializers.Serializer[Any]):
    a = serializers.DictField(help_text="trace_id, duration_ms and span count of trace A.")
    b = serializers.DictField(help_text="The same for trace B.")
    operations = OperationDiffSerializer(many=True)


def _summary(trace: Any) -> dict[str, Any]:
    starts = [s.start for s in trace.spans]
    ends = [s.end for s in trace.spans]
    return {"trace_id": trace.trace_id, "spans": len(trace.spans),
            "duration_ms": (max(ends) - min(starts)).total_seconds() * 1000.0 if starts else 0.0}


class TraceCompareView(OrgAPIView):
    @extend_schema(
        operation_id="traces_compare", tags=["traces"], responses=TraceComparisonSerializer,
        parameters=[OpenApiParameter("a", str, required=True, description="Trace id (32 hex characters)."),
                    OpenApiParameter("b", str, required=True, description="Trace id to compare with.")],
        summary="Two traces side by side: per operation, counts and total and self time in each.",
    )
    def get(self, request: Request) -> Response:
        p = request.query_params
        # Each id is looked up in the caller's org: another org's trace is a 404, as for the detail view.
        ids = {}
        for name in ("a", "b"):
            if not p.get(name):
                raise params.bad_param(name, "invalid",
                                       f"Give the trace ids to compare as a= and b= ({name} is missing).")
            ids[name] = p[name].lower()
        a, b = services.get_trace(self.org, ids["a"]), services.get_trace(self.org, ids["b"])
        ops = trace_analysis.compare(a.spans, b.spans)
        return Response({"a": _summary(a), "b": _summary(b),
                         "operations": [{**asdict(d), "self_delta_ms": d.self_delta_ms} for d in ops]})
