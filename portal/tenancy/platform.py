"""Platform operators' (staff) cross-org views: every org, every audit entry. A separate path from the
org-scoped mechanism on purpose, so that the only `all_orgs()` reads in the request path live here."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.mixins import UserPassesTestMixin
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.views.generic import TemplateView
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from portal.core.parsers import json_object
from portal.errors import ServiceError
from portal.tenancy import services
from portal.tenancy.api import AUDIT_FILTERS, filter_audit
from portal.tenancy.audit import actor_from
from portal.tenancy.models import AuditEntry, Organization
from portal.tenancy.permissions import IsStaff
from portal.tenancy.serializers import AuditEntrySerializer, OrganizationSerializer


class PlatformOrgsView(generics.ListCreateAPIView):  # type: ignore[type-arg]
    """Every organization (staff). POST creates one."""

    permission_classes = [IsStaff]
    serializer_class = OrganizationSerializer
    queryset = Organization.objects.all()

    @extend_schema(request=OrganizationSerializer, responses={201: OrganizationSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = json_object(request)
        slug = str(body.get("slug", ""))
        if not slug:
            raise ServiceError(400, "invalid", "slug: this field is required.", {"slug": ["required"]})
        org = services.create_org(slug, str(body.get("name", "")), str(body.get("label_value", "")),
                                  actor=actor_from(request))
        return Response(OrganizationSerializer(org).data, status=status.HTTP_201_CREATED)


@extend_schema(parameters=[*AUDIT_FILTERS])
class PlatformAuditView(generics.ListAPIView):  # type: ignore[type-arg]
    """The audit log of every org (staff); filter by org slug with ?org=."""

    permission_classes = [IsStaff]
    serializer_class = AuditEntrySerializer

    def get_queryset(self) -> QuerySet[AuditEntry]:
        qs = filter_audit(AuditEntry.objects.all_orgs().select_related("org"), self.request.query_params)
        if self.request.query_params.get("org"):
            qs = qs.filter(org__slug=self.request.query_params["org"])
        return qs


class PlatformAuditPage(UserPassesTestMixin, TemplateView):
    template_name = "tenancy/audit.html"

    def test_func(self) -> bool:
        return bool(self.request.user.is_authenticated and self.request.user.is_staff)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        ctx = super().get_context_data(**kwargs)
        qs: QuerySet[AuditEntry] = AuditEntry.objects.all_orgs().select_related("org")
        try:
            qs = filter_audit(qs, self.request.GET)
        except ServiceError as e:
            ctx["filter_error"] = e.message
        if self.request.GET.get("org"):
            qs = qs.filter(org__slug=self.request.GET["org"])
        ctx.update(page=Paginator(qs, 50).get_page(self.request.GET.get("page")), filters=self.request.GET,
                   platform=True)
        return ctx
