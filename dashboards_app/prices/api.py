"""REST API of the model price table (`/api/v1/model-prices/`): every org member reads it, staff write it.

The table is platform configuration, not org-owned: there is nothing of another org to hide (every org
sees the same list prices), so reads need only a membership and writes go through the staff check, as
datasources do. A non-staff write answers 403 permission_denied.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from rest_framework import mixins, permissions, serializers, viewsets
from rest_framework.request import Request

from dashboards_app import pricing
from dashboards_app.models import ModelPrice
from dashboards_app.prices import services
from portal.tenancy.audit import actor_from
from portal.tenancy.permissions import IsOrgMember, IsStaff


class ModelPriceSerializer(serializers.ModelSerializer[ModelPrice]):
    # Declared so that DRF adds no uniqueness validator of its own: the service answers `exists` (also
    # for the race two concurrent creates would otherwise turn into a 500).
    model = serializers.CharField(max_length=200)
    usd_per_1k_input = serializers.DecimalField(max_digits=12, decimal_places=6, min_value=Decimal(0),
                                                max_value=pricing.MAX_USD_PER_1K)
    usd_per_1k_output = serializers.DecimalField(max_digits=12, decimal_places=6, min_value=Decimal(0),
                                                 max_value=pricing.MAX_USD_PER_1K)

    class Meta:
        model = ModelPrice
        fields: ClassVar[list[str]] = ["id", "model", "usd_per_1k_input", "usd_per_1k_output", "updated_at"]
        read_only_fields: ClassVar[list[str]] = ["id", "updated_at"]

    def validate_model(self, value: str) -> str:
        value = value.strip()
        if not pricing.MODEL_NAME_RE.match(value):
            raise serializers.ValidationError(
                "Enter the model's gen_ai_request_model value: letters, digits and . _ : / @ + - "
                "(starting with a letter or digit).")
        others = ModelPrice.objects.filter(model=value)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise serializers.ValidationError(f"A price for model {value!r} already exists; edit it instead.")
        return value


class MembersReadStaffWrite(permissions.BasePermission):
    """Reads: any member of the org the request acts for. Writes: platform operators (staff) only."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return IsOrgMember().has_permission(request, view)
        return IsStaff().has_permission(request, view)


class ModelPriceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                        mixins.UpdateModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):  # type: ignore[type-arg]
    """USD per 1k input and output tokens per model; the AI usage dashboard computes spend from them."""

    permission_classes = [MembersReadStaffWrite]  # noqa: RUF012 - DRF convention
    serializer_class = ModelPriceSerializer
    queryset = ModelPrice.objects.all()
    pagination_class = None  # one row per model: a short list, always whole

    def perform_create(self, serializer: serializers.BaseSerializer[ModelPrice]) -> None:
        serializer.instance = services.create_price(actor_from(self.request), dict(serializer.validated_data))

    def perform_update(self, serializer: serializers.BaseSerializer[ModelPrice]) -> None:
        assert serializer.instance is not None
        serializer.instance = services.update_price(actor_from(self.request), serializer.instance,
                                                    dict(serializer.validated_data))

    def perform_destroy(self, instance: ModelPrice) -> None:
        services.delete_price(actor_from(self.request), instance)
