"""The one base for org-scoped API endpoints.

`OrgScopedGenericViewSet` (and `OrgScopedViewSet`, its full-CRUD form) builds its queryset from
`model.objects.for_org(request.org)`; subclasses narrow it
in `scope_queryset` and may not override get_queryset/get_object/perform_create (checked at class
creation, as PostHog's TeamAndOrgViewSetMixin does). The org is never read from the request body.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models, transaction
from rest_framework import mixins, serializers, viewsets
from rest_framework.request import Request
from rest_framework.views import APIView

from portal.tenancy import audit
from portal.tenancy.context import OrgContext
from portal.tenancy.models import Organization
from portal.tenancy.permissions import org_ctx_of

_GUARDED = ("get_queryset", "get_object", "perform_create")
_DRF_WRITES = {
    "perform_create": mixins.CreateModelMixin.perform_create,
    "perform_update": mixins.UpdateModelMixin.perform_update,
    "perform_destroy": mixins.DestroyModelMixin.perform_destroy,
}


class OrgAPIView(APIView):
    """A non-model endpoint acting for `self.org`."""

    required_role: ClassVar[str] = "viewer"

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self.org_ctx: OrgContext = org_ctx_of(request)
        self.org: Organization = self.org_ctx.org


class OrgScopedGenericViewSet(viewsets.GenericViewSet):  # type: ignore[type-arg]
    model: ClassVar[type[models.Model]]
    required_role: ClassVar[str] = "viewer"
    audit_type: ClassVar[str] = ""
    lookup_value_regex = "[^/]+"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in _GUARDED:
            if name in cls.__dict__:
                raise TypeError(f"{cls.__name__} overrides {name}: narrow with scope_queryset() instead")
        # Listing DRF's mixins before this class would let their perform_* (no org, no audit) win the MRO;
        # whatever the base order, the org-setting, audited versions are the ones that run.
        for name, drf_default in _DRF_WRITES.items():
            if getattr(cls, name) is drf_default:
                setattr(cls, name, getattr(OrgScopedGenericViewSet, name))

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self.org_ctx: OrgContext = org_ctx_of(request)
        self.org: Organization = self.org_ctx.org

    def scope_queryset(self, qs: models.QuerySet[Any]) -> models.QuerySet[Any]:
        return qs

    def get_queryset(self) -> models.QuerySet[Any]:
        return self.scope_queryset(self.model.objects.for_org(self.org))  # type: ignore[attr-defined]

    def get_serializer_context(self) -> dict[str, Any]:
        ctx = super().get_serializer_context()
        if hasattr(self, "org"):
            ctx["org"] = self.org
        return ctx

    def perform_create(self, serializer: serializers.BaseSerializer[Any]) -> None:
        with transaction.atomic():
            obj = serializer.save(org=self.org)
            audit.record(self.request, "create", obj, serializer.data)

    def perform_update(self, serializer: serializers.BaseSerializer[Any]) -> None:
        with transaction.atomic():
            assert serializer.instance is not None
            before = audit.snapshot(serializer.instance)
            obj = serializer.save()
            audit.record(self.request, "update", obj, audit.diff(before, audit.snapshot(obj)))

    def perform_destroy(self, instance: models.Model) -> None:
        with transaction.atomic():
            audit.record(self.request, "delete", instance, {})
            instance.delete()


class OrgScopedViewSet(
    OrgScopedGenericViewSet, mixins.CreateModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin,
    mixins.DestroyModelMixin, mixins.ListModelMixin,
):
    """Full CRUD on an org-owned model; set `model` and `serializer_class`."""


class OrgRelatedField(serializers.PrimaryKeyRelatedField):  # type: ignore[type-arg]
    """A foreign key limited to the serializer's org: another org's id reads as 'does not exist'."""

    def get_queryset(self) -> Any:
        org = self.context.get("org")
        model = self.queryset.model if self.queryset is not None else None
        if org is None or model is None:
            return model.objects.none() if model else None
        return model.objects.for_org(org)
