"""REST endpoints of log analytics (under /api/v1/): facets of a search and its counts over time by a field."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from logs_app import analytics
from logs_app.api import _END, _Q, _START
from portal.tenancy.api_base import OrgAPIView


class FilterSerializer(serializers.Serializer[Any]):
    include = serializers.CharField(help_text="Search term keeping records with this value, e.g. `service=api`.")
    exclude = serializers.CharField(help_text="Search term dropping them, e.g. `-service=api`.")


class FacetValueSerializer(serializers.Serializer[Any]):
    value = serializers.CharField(allow_null=True)
    count = serializers.IntegerField()
    filter = FilterSerializer(allow_null=True, help_text="null when the language cannot name the field.")


class AttributeFacetSerializer(serializers.Serializer[Any]):
    key = serializers.CharField()
    count = serializers.IntegerField(help_text="Sampled records that have the key.")
    field = serializers.CharField(allow_null=True, help_text="The key as a search field (`attr.<key>` when a "
                                  "column has its name); null when a query cannot name it (upper case).")
    values = FacetValueSerializer(many=True)


class SampleSerializer(serializers.Serializer[Any]):
    limit = serializers.IntegerField(help_text="The newest this many matching records are counted.")
    records = serializers.IntegerField(help_text="Records in the sample.")
    complete = serializers.BooleanField(help_text="The sample is every matching record: counts are exact.")


class FacetsSerializer(serializers.Serializer[Any]):
    org = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    sample = SampleSerializer()
    service = FacetValueSerializer(many=True)
    level = FacetValueSerializer(many=True)
    attributes = AttributeFacetSerializer(many=True)


class SeriesSerializer(serializers.Serializer[Any]):
    value = serializers.CharField(allow_null=True, help_text="null: every value outside the top ones (other).")
    total = serializers.IntegerField()
    counts = serializers.ListField(child=serializers.IntegerField())
    filter = FilterSerializer(allow_null=True)


class CountsSerializer(serializers.Serializer[Any]):
    org = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    by = serializers.CharField()
    step_seconds = serializers.FloatField()
    buckets = serializers.ListField(child=serializers.DateTimeField())
    series = SeriesSerializer(many=True)


_TOP = OpenApiParameter("top", int, description="Values per field (1-50, default 10).")


class LogFacetsView(OrgAPIView):
    @extend_schema(
        operation_id="logs_facets", tags=["logs"], responses=FacetsSerializer,
        parameters=[_Q, _START, _END, _TOP,
                    OpenApiParameter("keys", int, description="Attribute keys (0-50, default 10)."),
                    OpenApiParameter("sample", int, description="Newest matching records counted "
                                     "(1-100000, default 10000).")],
        summary="Top services, levels and attribute keys/values of a search, over a sample of its records.",
    )
    def get(self, request: Request) -> Response:
        p = request.query_params
        s, result = analytics.log_facets(self.org_ctx, p.get("q", ""), p.get("start"), p.get("end"),
                                         p.get("top"), p.get("keys"), p.get("sample"))
        return Response({"org": s.org.slug, "start": s.start, "end": s.end, **analytics.facets_json(result)})


class LogCountsView(OrgAPIView):
    @extend_schema(
        operation_id="logs_counts", tags=["logs"], responses=CountsSerializer,
        parameters=[_Q, _START, _END, _TOP,
                    OpenApiParameter("by", str, required=True, description="Field to group by: service, "
                                     "level, or an attribute (`http.status`, `attr.<key>`)."),
                    OpenApiParameter("buckets", int, description="1-500, default 60.")],
        summary="Matching records per time bucket, one series per top value of a field plus `other`.",
    )
    def get(self, request: Request) -> Response:
        p = request.query_params
        s, result = analytics.log_counts(self.org_ctx, p.get("q", ""), p.get("start"), p.get("end"), p.get("by"),
                                         p.get("buckets"), p.get("top"))
        return Response(analytics.counts_json(s, result))
