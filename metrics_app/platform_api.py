"""REST API for platform series (`/api/v1/platform-series/`): staff write, org members read.

Platform series are platform configuration (not org-owned, like datasources), so this is the separate
staff path rather than an OrgScopedViewSet. Members of any org may list them: the list is what they may
query without their org matcher, and it names no org's data.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rest_framework import permissions, serializers, viewsets
from rest_framework.request import Request

from portal.tenancy.audit import actor_from
from portal.tenancy.permissions import IsOrgMember, IsStaff

from . import platform_series, services
from .models import PlatformSeries
from .platform_check import PlatformSeriesRefused
from .promql import PromQLError


class StaffWriteMembersRead(permissions.BasePermission):
    """Reads: staff, or a member of the org the request acts for. Writes: staff only."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in permissions.SAFE_METHODS and not getattr(request.user, "is_staff", False):
            return IsOrgMember().has_permission(request, view)
        return IsStaff().has_permission(request, view)


class PlatformSeriesSerializer(serializers.ModelSerializer[PlatformSeries]):
    class Meta:
        model = PlatformSeries
        fields: ClassVar[list[str]] = ["id", "name", "expr", "description", "enabled", "created_at", "updated_at"]
        read_only_fields: ClassVar[list[str]] = ["id", "created_at", "updated_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        inst: PlatformSeries | None = self.instance  # type: ignore[assignment]
        name = attrs.get("name", inst.name if inst else "")
        expr = attrs.get("expr", inst.expr if inst else "")
        try:
            platform_series.validate(name, expr)
        except PlatformSeriesRefused as exc:
            raise serializers.ValidationError({exc.field: exc.message}) from exc
        except PromQLError as exc:
            where = f" (at position {exc.position})" if exc.position is not None else ""
            raise serializers.ValidationError({"expr": f"{exc.message}{where}"}) from exc
        return attrs


class PlatformSeriesViewSet(viewsets.ModelViewSet):  # type: ignore[type-arg]
    """Platform series: recording rules every org may read (with `org_id=""` instead of its matcher)."""

    permission_classes = [StaffWriteMembersRead]  # noqa: RUF012 - DRF convention
    serializer_class = PlatformSeriesSerializer
    queryset = PlatformSeries.objects.all()

    def get_queryset(self) -> Any:
        qs = PlatformSeries.objects.all()
        if not getattr(self.request.user, "is_staff", False):
            qs = qs.filter(enabled=True)  # orgs see what they may query
        return qs

    def perform_create(self, serializer: serializers.BaseSerializer[PlatformSeries]) -> None:
        serializer.instance = services.save_platform_series(actor_from(self.request), PlatformSeries(),
                                                             dict(serializer.validated_data), "create")

    def perform_update(self, serializer: serializers.BaseSerializer[PlatformSeries]) -> None:
        assert serializer.instance is not None
        serializer.instance = services.save_platform_series(actor_from(self.request), serializer.instance,
                                                             dict(serializer.validated_data), "update")

    def perform_destroy(self, instance: PlatformSeries) -> None:
        services.delete_platform_series(actor_from(self.request), instance)
