"""REST endpoints (thin: parse, call one service, answer)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from portal.core.parsers import json_object
from portal.errors import ServiceError
from portal.tenancy.api_base import OrgAPIView, OrgScopedViewSet
from portal.tenancy.audit import actor_from

from . import render, services, sync
from .catalog import TEMPLATES
from .models import Channel, RecordingRule, Rule
from .serializers import ChannelSerializer, PolicySerializer, RecordingRuleSerializer, RuleSerializer


class RuleViewSet(OrgScopedViewSet):
    model = Rule
    serializer_class = RuleSerializer
    writes = services.RULES

    def scope_queryset(self, qs: Any) -> Any:
        return qs.prefetch_related("channels")

    @extend_schema(request=OpenApiTypes.OBJECT, responses={201: OpenApiTypes.OBJECT})
    @action(detail=False, methods=["post"], url_path="import")
    def import_file(self, request: Request) -> Response:
        text = json_object(request).get("file")
        upload = request.FILES.get("file")
        if upload is not None:
            text = upload.read().decode("utf-8", "replace")
        if not text:
            raise ServiceError(400, "invalid", "file: the rule file (YAML) is required", {"field": "file"})
        result = services.import_rules(actor_from(request), self.org, str(text))
        return Response(result, status=status.HTTP_201_CREATED)

    @extend_schema(responses={(200, "application/yaml"): OpenApiTypes.ANY})
    @action(detail=False, methods=["get"])
    def export(self, request: Request) -> HttpResponse:
        rules, recording, by_rule = render.load_org_rules(self.org)
        text, _ = render.render_rules_file(self.org, rules, recording, by_rule)
        return HttpResponse(render.to_block_yaml(text), content_type="application/yaml")

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    @action(detail=False, methods=["post"])
    def preview(self, request: Request) -> Response:
        return Response(services.preview(self.org, json_object(request)))

    @extend_schema(responses=OpenApiTypes.ANY)
    @action(detail=False, methods=["get"])
    def templates(self, request: Request) -> Response:
        return Response([t.as_dict() for t in TEMPLATES.values()])

    @extend_schema(request=OpenApiTypes.OBJECT, responses={201: RuleSerializer, 200: OpenApiTypes.ANY})
    @action(detail=False, methods=["post"], url_path="from-template")
    def from_template(self, request: Request) -> Response:
        body = json_object(request)
        key = str(body.get("template", ""))
        if key not in TEMPLATES:
            raise ServiceError(400, "invalid", "template: unknown template", {"field": "template"})
        params = body.get("params") or {}
        if not isinstance(params, dict):
            raise ServiceError(400, "invalid", "params: an object of template parameters", {"field": "params"})
        try:
            data = TEMPLATES[key].build(params)
        except (TypeError, ValueError) as exc:
            raise ServiceError(400, "invalid", f"params: {exc}", {"field": "params"}) from exc
        overrides = ("name", "severity", "channels", "enabled", "for_duration")
        data.update({k: v for k, v in body.items() if k in overrides})
        if request.query_params.get("dry_run"):
            return Response(data)  # the editor shows what the template builds before saving
        serializer = self.get_serializer(data=data)
        serializer.is_valid(raise_exception=True)
        self.perform_create(serializer)
        return Response(serializer.data, status=status.HTTP_201_CREATED)


class RecordingRuleViewSet(OrgScopedViewSet):
    model = RecordingRule
    http_method_names = ["get", "delete", "head", "options"]
    serializer_class = RecordingRuleSerializer
    writes = services.RECORDING_RULES


class ChannelViewSet(OrgScopedViewSet):
    model = Channel
    serializer_class = ChannelSerializer
    writes = services.CHANNELS

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["post"])
    def test(self, request: Request, pk: str | None = None) -> Response:
        channel = self.get_object()
        return Response(services.test_channel(actor_from(request), self.org, channel))


class PolicyView(OrgAPIView):
    @extend_schema(responses=PolicySerializer)
    def get(self, request: Request) -> Response:
        return Response(PolicySerializer(services.get_policy(self.org)).data)

    @extend_schema(request=PolicySerializer, responses=PolicySerializer)
    def put(self, request: Request) -> Response:
        ser = PolicySerializer(data=request.data, partial=True)
        ser.is_valid(raise_exception=True)
        policy = services.save_policy(actor_from(request), self.org, dict(ser.validated_data))
        return Response(PolicySerializer(policy).data)


class SyncView(OrgAPIView):
    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        return Response(sync.org_sync_status(self.org))

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request) -> Response:
        services.resync(self.org)
        return Response(sync.org_sync_status(self.org), status=status.HTTP_202_ACCEPTED)


class ActiveAlertsView(OrgAPIView):
    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        alerts = services.active_alerts(self.org)
        counts: dict[str, int] = {}
        for a in alerts:
            sev = a.get("labels", {}).get("severity", "none")
            counts[sev] = counts.get(sev, 0) + 1
        return Response({"alerts": alerts, "counts": counts})


class SilencesView(OrgAPIView):
    @extend_schema(responses=OpenApiTypes.ANY)
    def get(self, request: Request) -> Response:
        return Response(services.list_silences(self.org))

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request) -> Response:
        try:
            body = json_object(request)
            minutes = int(body.get("duration_minutes", 60))
        except (TypeError, ValueError) as exc:
            raise ServiceError(400, "invalid", "duration_minutes: a number", {"field": "duration_minutes"}) from exc
        if not 1 <= minutes <= 60 * 24 * 90:
            raise ServiceError(400, "invalid", "duration_minutes: 1 to 129600", {"field": "duration_minutes"})
        matchers = body.get("matchers")
        if not isinstance(matchers, list) or not all(isinstance(m, dict) and m.get("name") for m in matchers):
            raise ServiceError(400, "invalid", "matchers: a list of {name, value, isRegex}", {"field": "matchers"})
        sid = services.create_silence(actor_from(request), self.org, matchers, minutes, str(body.get("comment", "")))
        return Response({"silenceID": sid}, status=status.HTTP_201_CREATED)


class SilenceDetailView(OrgAPIView):
    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def delete(self, request: Request, silence_id: UUID) -> Response:
        services.expire_silence(actor_from(request), self.org, str(silence_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class HistoryView(OrgAPIView):
    @extend_schema(responses=OpenApiTypes.ANY)
    def get(self, request: Request) -> Response:
        return Response(services.history(self.org))
