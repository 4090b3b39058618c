"""REST endpoints for the caller's org: the org itself, members, API tokens, ingest tokens, audit."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.request import Request
from rest_framework.response import Response

from portal.core.params import parse_time
from portal.core.parsers import json_object
from portal.errors import ServiceError
from portal.tenancy import services
from portal.tenancy.api_base import OrgAPIView, OrgScopedGenericViewSet, OrgScopedViewSet
from portal.tenancy.audit import actor_from
from portal.tenancy.models import ApiToken, AuditEntry, IngestToken, Membership, Role
from portal.tenancy.serializers import (
    ApiTokenCreateSerializer,
    ApiTokenSerializer,
    AuditEntrySerializer,
    IngestTokenCreatedSerializer,
    IngestTokenSerializer,
    MemberAddSerializer,
    MembershipSerializer,
    OrganizationSerializer,
    TokenCreatedSerializer,
)


class CurrentOrgView(OrgAPIView):
    """The organization the caller acts for."""

    write_role = Role.ADMIN

    @extend_schema(responses=OrganizationSerializer)
    def get(self, request: Request) -> Response:
        return Response(OrganizationSerializer(self.org).data)

    @extend_schema(request=OrganizationSerializer, responses=OrganizationSerializer)
    def patch(self, request: Request) -> Response:
        ser = OrganizationSerializer(self.org, data=request.data, partial=True)
        ser.is_valid(raise_exception=True)
        org = services.update_org(actor_from(request), self.org, dict(ser.validated_data))
        return Response(OrganizationSerializer(org).data)


class MemberViewSet(OrgScopedViewSet):
    """Members of the org; admins add (by email), change roles and remove. The last admin stays."""

    model = Membership
    serializer_class = MembershipSerializer
    write_role = Role.ADMIN
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def scope_queryset(self, qs: QuerySet[Any]) -> QuerySet[Any]:
        return qs.select_related("user")

    @extend_schema(request=MemberAddSerializer, responses={201: MembershipSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        ser = MemberAddSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        m = services.add_member(self.org, ser.validated_data["email"], ser.validated_data["role"],
                                actor=actor_from(request))
        return Response(MembershipSerializer(m).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        m = self.get_object()
        role = json_object(request).get("role")
        if not role:
            raise ServiceError(400, "invalid", "role: this field is required.", {"role": ["required"]})
        m = services.change_role(m, str(role), actor=actor_from(request))
        return Response(MembershipSerializer(m).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.remove_member(self.get_object(), actor=actor_from(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ApiTokenViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                      mixins.DestroyModelMixin, OrgScopedGenericViewSet):
    """The caller's own API tokens in this org (admins see everyone's). DELETE revokes."""

    model = ApiToken
    serializer_class = ApiTokenSerializer
    write_role = Role.VIEWER  # anyone may hold a token; its rights never exceed their role
    http_method_names = ["get", "post", "delete", "head", "options"]

    def scope_queryset(self, qs: QuerySet[Any]) -> QuerySet[Any]:
        qs = qs.select_related("user")
        return qs if self.org_ctx.is_admin else qs.filter(user=self.request.user)

    @extend_schema(request=ApiTokenCreateSerializer, responses={201: TokenCreatedSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        ser = ApiTokenCreateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        token, secret = services.create_api_token(self.org, request.user, actor=actor_from(request),
                                                  via_token=self.org_ctx.token, **ser.validated_data)
        data = dict(TokenCreatedSerializer(token).data, token=secret)
        return Response(data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.revoke_token(self.get_object(), actor=actor_from(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class IngestTokenViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                         mixins.DestroyModelMixin, OrgScopedGenericViewSet):
    """Write-only telemetry tokens of the org (admins). DELETE revokes."""

    model = IngestToken
    serializer_class = IngestTokenSerializer
    required_role = Role.ADMIN
    http_method_names = ["get", "post", "delete", "head", "options"]

    @extend_schema(request=IngestTokenSerializer, responses={201: IngestTokenCreatedSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        ser = IngestTokenSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        token, secret = services.create_ingest_token(self.org, ser.validated_data["name"],
                                                     actor=actor_from(request))
        return Response(dict(IngestTokenSerializer(token).data, token=secret), status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.revoke_token(self.get_object(), actor=actor_from(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


AUDIT_FILTERS = [
    OpenApiParameter("action", str, description="create, update, delete, revoke, …"),
    OpenApiParameter("object_type", str, description="model name, e.g. membership, apitoken, dashboard"),
    OpenApiParameter("actor", str, description="actor email contains"),
    OpenApiParameter("since", str, description="ISO 8601 time"),
    OpenApiParameter("until", str, description="ISO 8601 time"),
]


def filter_audit(qs: QuerySet[AuditEntry], params: Any) -> QuerySet[AuditEntry]:
    if params.get("action"):
        qs = qs.filter(action=params["action"])
    if params.get("object_type"):
        qs = qs.filter(object_type=params["object_type"])
    if params.get("actor"):
        qs = qs.filter(actor_label__icontains=params["actor"])
    for key, lookup in (("since", "created_at__gte"), ("until", "created_at__lt")):
        if params.get(key):
            qs = qs.filter(**{lookup: parse_time(params[key], key, code="invalid")})
    return qs


@extend_schema(parameters=AUDIT_FILTERS)
class AuditViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrgScopedGenericViewSet):
    """The org's audit log (admins)."""

    model = AuditEntry
    serializer_class = AuditEntrySerializer
    required_role = Role.ADMIN

    def scope_queryset(self, qs: QuerySet[Any]) -> QuerySet[Any]:
        return filter_audit(qs.select_related("org"), self.request.query_params)


