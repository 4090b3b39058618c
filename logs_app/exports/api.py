"""REST endpoints of log exports, mounted under /api/v1/ by logs_app/api_urls.py:

- `exports/` (list, create, retrieve, delete, `POST exports/<id>/cancel/`, `exports/quota/`) and
  `exports/schedules/`;
- `exports/download/<token>/`: the signed, expiring, org-checked download link (public: e-mail links).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, ClassVar

from django.http import FileResponse, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from logs_app.exports import links, services
from logs_app.exports.models import Export, ExportFormat, ExportSchedule, ExportStatus
from portal.errors import ServiceError, json_error
from portal.tenancy.api_base import OrgScopedGenericViewSet
from portal.tenancy.audit import actor_from, client_ip
from portal.tenancy.auth import TokenError, authenticate_api_token, bearer_token
from portal.tenancy.context import context_for
from portal.tenancy.models import Organization


class ExportSerializer(serializers.ModelSerializer[Export]):
    percent = serializers.FloatField(read_only=True, allow_null=True)
    progress = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Export
        fields: ClassVar[list[str]] = [
            "id", "query", "start", "end", "format", "gzip", "status", "rows_written", "rows_total", "percent",
            "progress", "size_bytes", "cancel_requested", "error", "schedule", "created_at", "started_at",
            "finished_at", "expires_at", "download_url",
        ]
        read_only_fields = fields

    def get_progress(self, obj: Export) -> dict[str, Any]:
        return {"rows": obj.rows_written, "total": obj.rows_total, "percent": obj.percent}

    def get_download_url(self, obj: Export) -> str | None:
        if obj.status != ExportStatus.DONE or obj.expires_at <= timezone.now():
            return None
        return links.download_url(obj)


class ExportCreateSerializer(serializers.Serializer[Any]):
    query = serializers.CharField(allow_blank=True, default="", max_length=2000)
    start = serializers.DateTimeField(required=False)
    end = serializers.DateTimeField(required=False)
    since = serializers.DurationField(required=False, help_text="Instead of start: this long before end.")
    format = serializers.ChoiceField(choices=ExportFormat.choices, default=ExportFormat.CSV)
    gzip = serializers.BooleanField(default=True)

    def to_request(self) -> services.ExportRequest:
        data = self.validated_data
        end: datetime = data.get("end") or timezone.now()
        try:
            start: datetime = data.get("start") or end - (data.get("since") or timedelta(hours=1))
        except OverflowError as e:
            raise ServiceError(400, "invalid", "since reaches before the year 1.") from e
        return services.ExportRequest(query=data["query"], start=start, end=end, format=data["format"],
                                      gzip=data["gzip"])


class ExportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedGenericViewSet):
    """Log exports of the caller's org. Viewers may export (it reads data); cancel/delete need the same."""

    model = Export
    serializer_class = ExportSerializer
    write_role = "viewer"
    lookup_value_regex = r"\d+"

    @extend_schema(request=ExportCreateSerializer, responses={202: ExportSerializer})
    def create(self, request: Request) -> Response:
        form = ExportCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        export = services.create_export(self.org, request.user, form.to_request(), actor=actor_from(request))
        export.refresh_from_db()
        return Response(ExportSerializer(export).data, status=202)

    @extend_schema(request=None, responses={200: ExportSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        export = services.cancel_export(self.org, self.get_object().pk)
        return Response(ExportSerializer(export).data)

    def destroy(self, request: Request, pk: str) -> Response:
        services.delete_export(actor_from(request), self.org, self.get_object().pk)
        return Response(status=204)

    @extend_schema(responses={200: dict})
    @action(detail=False, methods=["get"])
    def quota(self, request: Request) -> Response:
        return Response({"used_bytes": services.used_bytes(self.org), "quota_bytes": services.quota_bytes()})


@extend_schema_field({"type": "string", "pattern": r"^([01]\d|2[0-3]):[0-5]\d$", "example": "06:00",
                     "description": "time of day, UTC (HH:MM)"})
class UtcTimeOfDayField(serializers.TimeField):
    """HH:MM in UTC. OpenAPI's `format: time` demands an offset that a wall-clock time does not have."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%H:%M", input_formats=["%H:%M", "%H:%M:%S"], **kwargs)


class ExportScheduleSerializer(serializers.ModelSerializer[ExportSchedule]):
    at_time = UtcTimeOfDayField(required=False)

    class Meta:
        model = ExportSchedule
        fields: ClassVar[list[str]] = ["id", "name", "query", "format", "gzip", "frequency", "at_time", "weekday",
                                       "enabled", "owner", "last_run_at", "next_run_at", "created_at"]
        read_only_fields: ClassVar[list[str]] = ["owner", "last_run_at", "next_run_at", "created_at"]

    def validate_weekday(self, value: int) -> int:
        if not 0 <= value <= 6:
            raise serializers.ValidationError("0 (Monday) to 6 (Sunday).")
        return value

    def validate_query(self, value: str) -> str:
        services.check_query(value)
        return value


class ExportScheduleViewSet(OrgScopedGenericViewSet, mixins.CreateModelMixin, mixins.RetrieveModelMixin,
                            mixins.UpdateModelMixin, mixins.DestroyModelMixin, mixins.ListModelMixin):
    """Daily or weekly exports at a time (UTC); the owner (creator) gets an e-mail with the link.

    The base comes first so that its audited, org-setting perform_* win over the DRF mixins' (in
    `OrgScopedViewSet` the mixins come first and their perform_create saves without the org)."""

    model = ExportSchedule
    serializer_class = ExportScheduleSerializer
    writes = services.SCHEDULES
    write_role = services.SCHEDULE_ROLE
    lookup_value_regex = r"\d+"


@require_GET
def download(request: HttpRequest, token: str) -> HttpResponse | FileResponse:
    """Serve an export file for a valid signed link, and audit the download.

    The link is signed with (export id, org id, requester, expiry) and works without a session, so the
    e-mailed link can be fetched by scripts; it works only while its requester is still an active member
    of the org. When the caller *is* identified (session or bearer token) they must also belong to that
    org. Anything wrong — bad signature, expired, another org, requester gone, file gone — is the same 404.
    """
    claim = links.read_token(token)
    if claim is None:
        return json_error(404, "not_found", "Download link not found or expired.")
    org = Organization.objects.filter(pk=claim.org_id).first()
    export = Export.objects.for_org(org).select_related("created_by").filter(pk=claim.export_id).first() \
        if org else None
    if org is None or export is None or export.created_by_id != claim.user_id \
            or not services.member_may(export.created_by, org, services.DOWNLOAD_ROLE):
        return json_error(404, "not_found", "Download link not found or expired.")
    may_read, caller = _caller(request, org)
    if not may_read:
        return json_error(404, "not_found", "Download link not found or expired.")
    path = export.file_path()
    if export.status != ExportStatus.DONE or export.expires_at <= timezone.now() or path is None \
            or not path.exists():
        return json_error(404, "not_found", "Download link not found or expired.")
    services.record_download(export, caller, client_ip(request))
    content_type = "application/gzip" if export.gzip else (
        "text/csv; charset=utf-8" if export.format == ExportFormat.CSV else "application/x-ndjson")
    resp = FileResponse(path.open("rb"), as_attachment=True, filename=export.download_name,
                        content_type=content_type)
    resp["Cache-Control"] = "private, no-store"
    return resp


def _caller(request: HttpRequest, org: Organization) -> tuple[bool, Any]:
    """(may the caller fetch this org's link, who they are: None for an anonymous fetch of the link)."""
    raw = bearer_token(request)
    if raw is not None:
        try:
            user, ctx = authenticate_api_token(raw, request)
        except TokenError:
            return False, None
        return ctx.org.pk == org.pk, user
    if request.user.is_authenticated:
        return context_for(request.user, org) is not None, request.user
    return True, None
