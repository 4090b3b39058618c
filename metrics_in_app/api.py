"""REST endpoints: scrape targets (org admins write, members read) with health; ingest limits."""

from __future__ import annotations

from typing import ClassVar

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from metrics_in_app import services
from metrics_in_app.models import ScrapeTarget
from metrics_in_app.serializers import IngestLimitsSerializer, ScrapeTargetSerializer, TargetHealthSerializer
from portal.core.parsers import json_object
from portal.errors import ServiceError
from portal.tenancy.api_base import OrgAPIView, OrgScopedGenericViewSet
from portal.tenancy.audit import actor_from
from portal.tenancy.models import Role


class ScrapeTargetViewSet(
    OrgScopedGenericViewSet, mixins.CreateModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin,
    mixins.DestroyModelMixin, mixins.ListModelMixin,
):
    # The org-scoped base comes first so that its perform_create/update/destroy (org set from the token,
    # audited) win over DRF's mixins; portal's OrgScopedViewSet lists the mixins first.
    model = ScrapeTarget
    serializer_class = ScrapeTargetSerializer
    writes = services.TARGETS
    write_role: ClassVar[str] = Role.ADMIN

    @extend_schema(operation_id="scrape_targets_health_list", responses=inline_serializer(
        "ScrapeTargetHealthList", {"targets": TargetHealthSerializer(many=True)}))
    @action(detail=False, methods=["get"])
    def health(self, request: Request) -> Response:
        return Response({"targets": services.targets_with_health(self.org)})

    @extend_schema(operation_id="scrape_targets_health_retrieve", responses=TargetHealthSerializer)
    @action(detail=True, methods=["get"], url_path="health")
    def target_health(self, request: Request, pk: str | None = None) -> Response:
        target = self.get_object()
        rows = [r for r in services.targets_with_health(self.org) if r["id"] == target.pk]
        return Response(rows[0])


class IngestLimitsView(OrgAPIView):
    """GET: the org's effective limits (any member). PUT/PATCH: overrides, platform operators only."""

    write_role: ClassVar[str] = Role.ADMIN
    serializer_class = IngestLimitsSerializer

    @extend_schema(responses=IngestLimitsSerializer)
    def get(self, request: Request) -> Response:
        return Response(services.effective_limits(self.org))

    @extend_schema(request=IngestLimitsSerializer, responses=IngestLimitsSerializer)
    def patch(self, request: Request) -> Response:
        if not self.org_ctx.is_staff:
            raise ServiceError(403, "permission_denied", "Ingest limits are set by platform operators (staff).")
        return Response(services.set_limits(self.org, json_object(request), actor=actor_from(request)))

    @extend_schema(request=IngestLimitsSerializer, responses=IngestLimitsSerializer)
    def put(self, request: Request) -> Response:
        return self.patch(request)
