"""REST endpoints of security investigation (logs_app/investigation.py): an org's timeline per user, address
or API key (org admins), the same across every org (staff), and staff's access to the org (org admins)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from logs_app import investigation, services
from portal.tenancy.api_base import OrgAPIView
from portal.tenancy.models import Organization, Role
from portal.tenancy.permissions import IsStaff

_PARAMS = [
    OpenApiParameter("subject", str, required=True, description="user, ip or key."),
    OpenApiParameter("value", str, required=True, description="The user (e-mail or user id), address or API key."),
    OpenApiParameter("start", str, description="RFC 3339, Unix seconds or `now-24h` (default: end - 24h)."),
    OpenApiParameter("end", str, description="RFC 3339, Unix seconds or `now` (default: now)."),
    OpenApiParameter("export", str, description="`csv` downloads the timeline."),
]


class EventSerializer(serializers.Serializer[Any]):
    time = serializers.DateTimeField()
    source = serializers.CharField(help_text="log or audit")  # type: ignore[assignment]
    kind = serializers.CharField()
    org = serializers.CharField()
    actor = serializers.CharField()
    ip = serializers.CharField()
    summary = serializers.CharField()
    trace_id = serializers.CharField()
    record_id = serializers.CharField()
    token_id = serializers.IntegerField(allow_null=True)
    details = serializers.DictField()


class TimelineSerializer(serializers.Serializer[Any]):
    subject = serializers.CharField()
    value = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    truncated = serializers.BooleanField()
    events = EventSerializer(many=True)


def _answer(request: Request, org: Organization | None) -> Response | HttpResponse:
    p = request.query_params
    start, end = services.time_range(p.get("start"), p.get("end"), default_span=timedelta(hours=24))
    t = investigation.timeline(org, p.get("subject", ""), p.get("value", ""), start, end)
    if p.get("export") == "csv":
        resp = HttpResponse(investigation.to_csv(t), content_type="text/csv; charset=utf-8")
        resp["Content-Disposition"] = f'attachment; filename="security-{t.subject}.csv"'
        return resp
    return Response(asdict(t))


class SecurityTimelineView(OrgAPIView):
    required_role = Role.ADMIN

    @extend_schema(operation_id="security_timeline", tags=["security"], parameters=_PARAMS,
                   responses=TimelineSerializer,
                   summary="One user's, address's or API key's security events in this org, newest first.")
    def get(self, request: Request) -> Response | HttpResponse:
        return _answer(request, self.org)


class PlatformSecurityTimelineView(APIView):
    permission_classes = [IsStaff]

    @extend_schema(operation_id="platform_security_timeline", tags=["security"],
                   parameters=[*_PARAMS, OpenApiParameter("org", str, description="Only this org (slug).")],
                   responses=TimelineSerializer, summary="The same timeline across every org (staff).")
    def get(self, request: Request) -> Response | HttpResponse:
        slug = request.query_params.get("org")
        org = Organization.objects.filter(slug=slug).first() if slug else None
        if slug and org is None:
            from portal.errors import ServiceError

            raise ServiceError(404, "not_found", "Organization not found.")
        return _answer(request, org)


class StaffAccessView(OrgAPIView):
    required_role = Role.ADMIN

    @extend_schema(operation_id="security_staff_access", tags=["security"], responses=EventSerializer(many=True),
                   parameters=_PARAMS[2:4],
                   summary="Every access by platform staff to this org's data, with the stated reason.")
    def get(self, request: Request) -> Response:
        p = request.query_params
        start, end = services.time_range(p.get("start"), p.get("end"), default_span=timedelta(days=30))
        return Response([asdict(e) for e in investigation.staff_access(self.org, start, end)])
