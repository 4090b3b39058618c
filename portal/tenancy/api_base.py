"""The one base for org-scoped API endpoints.

`OrgScopedGenericViewSet` (and `OrgScopedViewSet`, its full-CRUD form) builds its queryset from
`model.objects.for_org(request.org)`; subclasses narrow it
in `scope_queryset` and may not override get_queryset/get_object/perform_create (checked at class
creation, as PostHog's TeamAndOrgViewSetMixin does). The org is never read from the request body.
Writes go to the viewset's `writes` service (`portal.tenancy.writes.ModelWrites`), not to the serializer:
the serializer validates, the service writes and audits in one transaction.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models
from rest_framework import mixins, serializers, viewsets
from rest_framework.request import Request
from rest_framework.views import APIView

from portal.tenancy.audit import actor_from
from portal.tenancy.context import OrgContext
from portal.tenancy.models import Organization
from portal.tenancy.permissions import org_ctx_of
from portal.tenancy.writes import ModelWrites

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
    # The service that creates, updates and deletes `model` rows; a plain audited one when unset.
    writes: ClassVar[ModelWrites[Any] | None] = None
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

    def get_writes(self) -> ModelWrites[Any]:
        return self.writes or ModelWrites(self.model)

    def perform_create(self, serializer: serializers.BaseSerializer[Any]) -> None:
        data = dict(serializer.validated_data)
        serializer.instance = self.get_writes().create(actor_from(self.request), self.org, data)

    def perform_update(self, serializer: serializers.BaseSerializer[Any]) -> None:
        assert serializer.instance is not None
        data = dict(serializer.validated_data)
        serializer.instance = self.get_writes().update(actor_from(self.request), serializer.instance, data)

    def perform_destroy(self, instance: models.Model) -> None:
        self.get_writes().delete(actor_from(self.request), instance)


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
