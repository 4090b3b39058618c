"""REST API (under /api/v1/): log search, histogram, context around a record and live tail; trace search and
trace detail."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from logs_app import services, tail, trace_analysis
from logs_app.record_json import log_json, span_json
from portal.core import params
from portal.tenancy.api_base import OrgAPIView


class LogRecordSerializer(serializers.Serializer[Any]):
    id = serializers.CharField(help_text="Opaque record id (for logs/context).")
    time = serializers.DateTimeField()
    service = serializers.CharField()
    level = serializers.CharField()
    severity_number = serializers.IntegerField()
    body = serializers.CharField()
    trace_id = serializers.CharField()
    span_id = serializers.CharField()
    correlation_id = serializers.CharField()
    user_id = serializers.CharField()
    resource = serializers.DictField()
    attributes = serializers.DictField()


class LogPageSerializer(serializers.Serializer[Any]):
    org = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    records = LogRecordSerializer(many=True)
    next_cursor = serializers.CharField(allow_null=True)


class BucketSerializer(serializers.Serializer[Any]):
    start = serializers.DateTimeField()
    count = serializers.IntegerField()
    by_level = serializers.DictField(child=serializers.IntegerField())


class HistogramSerializer(serializers.Serializer[Any]):
    org = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    step_seconds = serializers.FloatField()
    total = serializers.IntegerField()
    buckets = BucketSerializer(many=True)


class TraceSummarySerializer(serializers.Serializer[Any]):
    trace_id = serializers.CharField()
    root_service = serializers.CharField()
    root_name = serializers.CharField()
    start = serializers.DateTimeField()
    duration_ms = serializers.FloatField()
    span_count = serializers.IntegerField()
    error_count = serializers.IntegerField()


class TraceListSerializer(serializers.Serializer[Any]):
    org = serializers.CharField()
    traces = TraceSummarySerializer(many=True)


class SpanSerializer(serializers.Serializer[Any]):
    trace_id = serializers.CharField()
    span_id = serializers.CharField()
    parent_span_id = serializers.CharField()
    name = serializers.CharField()
    service = serializers.CharField()
    kind = serializers.CharField()
    status = serializers.CharField()
    status_message = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    duration_ms = serializers.FloatField()
    resource = serializers.DictField()
    attributes = serializers.DictField()
    events = serializers.ListField(child=serializers.DictField())


class TraceSpanSerializer(SpanSerializer):
    self_ms = serializers.FloatField(help_text="Duration minus the time covered by its children.")
    critical_ms = serializers.FloatField(help_text="Time of this span on the trace's critical path (0: not on it).")


class TraceSerializer(serializers.Serializer[Any]):
    trace_id = serializers.CharField()
    spans = TraceSpanSerializer(many=True)
    logs = LogRecordSerializer(many=True)


_Q = OpenApiParameter("q", str, description="Search-language query (docs/logs.md), e.g. `level=error service=api`.")
_START = OpenApiParameter("start", str, description="RFC 3339, Unix seconds or `now-1h` (default: end - 1h).")
_END = OpenApiParameter("end", str, description="RFC 3339, Unix seconds or `now` (default: now).")


class LogSearchView(OrgAPIView):
    @extend_schema(
        operation_id="logs_search", tags=["logs"], responses=LogPageSerializer,
        parameters=[_Q, _START, _END, OpenApiParameter("limit", int, description="1-1000, default 100."),
                    OpenApiParameter("cursor", str, description="next_cursor of the previous page.")],
        summary="Search log records, newest first, paginated by cursor.",
    )
    def get(self, request: Request) -> Response:
        p = request.query_params
        limit = params.parse_int(p.get("limit"), "limit", default=100, minimum=1, maximum=services.MAX_LIMIT)
        s, page = services.search_logs(self.org_ctx, p.get("q", ""), p.get("start"), p.get("end"), limit,
                                       p.get("cursor"))
        return Response({"org": s.org.slug, "start": s.start, "end": s.end,
                         "records": [log_json(r) for r in page.records], "next_cursor": page.next_cursor})


class LogHistogramView(OrgAPIView):
    @extend_schema(
        operation_id="logs_histogram", tags=["logs"], responses=HistogramSerializer,
        parameters=[_Q, _START, _END, OpenApiParameter("buckets", int, description="1-500, default 60.")],
        summary="Counts of matching log records per time bucket, by level.",
    )
    def get(self, request: Request) -> Response:
        p = request.query_params
        buckets = params.parse_int(p.get("buckets"), "buckets", default=60, minimum=1,
                                   maximum=services.MAX_BUCKETS)
        s, result = services.histogram(self.org_ctx, p.get("q", ""), p.get("start"), p.get("end"), buckets)
        return Response({
            "org": s.org.slug, "start": s.start, "end": s.end,
            "step_seconds": (s.end - s.start).total_seconds() / buckets, "total": sum(b.count for b in result),
            "buckets": [{"start": b.start, "count": b.count, "by_level": b.by_level} for b in result],
        })


class LogContextView(OrgAPIView):
    """Records of the same service around one record (`before`/`after`, at most 100 each)."""

    @extend_schema(responses={200: dict})
    def get(self, request: Request, record_id: str) -> Response:
        from logs_app.store import get_store

        before = params.parse_int(request.query_params.get("before"), "before", default=10, minimum=0, maximum=100,
                                  code="invalid")
        after = params.parse_int(request.query_params.get("after"), "after", default=10, minimum=0, maximum=100,
                                 code="invalid")
        ctx = get_store().context(self.org, record_id, before=before, after=after)
        if ctx is None:
            raise Http404("Log record not found.")
        return Response({"record": log_json(ctx.record), "before": [log_json(r) for r in ctx.before],
                         "after": [log_json(r) for r in ctx.after]})


class LogTailView(OrgAPIView):
    """Live tail, one page: records newer than `cursor` (none given: a cursor at "now", no records). The logs page
    streams the same pages as server-sent events from `/o/<org>/logs/tail/stream/`."""

    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        return Response(tail.next_page(self.org, request.query_params.get("q", ""),
                                       request.query_params.get("cursor") or None,
                                       limit=params.parse_int(request.query_params.get("limit"), "limit", default=200,
                                                              minimum=1, maximum=1000, code="invalid")))


class TraceSearchView(OrgAPIView):
    @extend_schema(
        operation_id="traces_search", tags=["traces"], responses=TraceListSerializer,
        parameters=[OpenApiParameter("q", str, description="Span query: service=, name=, status=error, "
                                     "kind=, duration>500ms, span attributes; bare words match the span name."),
                    _START, _END, OpenApiParameter("limit", int, description="1-1000, default 50.")],
        summary="Traces with at least one matching span, newest first.",
    )
    def get(self, request: Request) -> Response:
        p = request.query_params
        limit = params.parse_int(p.get("limit"), "limit", default=50, minimum=1, maximum=services.MAX_LIMIT)
        s, traces = services.search_traces(self.org_ctx, p.get("q", ""), p.get("start"), p.get("end"), limit)
        return Response({"org": s.org.slug, "traces": [asdict(t) for t in traces]})


class TraceDetailView(OrgAPIView):
    @extend_schema(
        operation_id="traces_retrieve", tags=["traces"], responses=TraceSerializer,
        parameters=[OpenApiParameter("trace_id", OpenApiTypes.STR, OpenApiParameter.PATH,
                                     description="32 hex characters.")],
        summary="All spans and log records of one trace.",
    )
    def get(self, request: Request, trace_id: str) -> Response:
        trace = services.get_trace(self.org, trace_id)
        timing = trace_analysis.analyse(trace.spans)
        spans = [{**span_json(s), "self_ms": timing[s.span_id].self_ms, "critical_ms": timing[s.span_id].critical_ms}
                 for s in trace.spans]
        return Response({"trace_id": trace.trace_id, "spans": spans,
                         "logs": [log_json(r) for r in trace.logs]})
