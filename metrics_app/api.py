"""Staff-only REST API for datasources (`/api/v1/datasources/`): CRUD plus a "test connection" action.

Datasources are platform configuration, not org-owned, so this is the separate staff path (IsStaff)
rather than an OrgScopedViewSet. Secrets are write-only: responses only say whether one is set.
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import urlsplit

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from portal.credentials import AuthType
from portal.tenancy.audit import actor_from
from portal.tenancy.permissions import IsStaff

from . import services
from .models import Datasource


class DatasourceSerializer(serializers.ModelSerializer[Datasource]):
    password = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=1000,
                                     style={"input_type": "password"})
    bearer_token = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=4000)
    # Not URLField: single-label hosts (`http://prometheus:9090` in compose/k8s) must be accepted.
    url = serializers.CharField(max_length=500)
    # Declared so DRF adds no uniqueness validator: the service moves the default flag atomically.
    is_default = serializers.BooleanField(required=False)
    has_secret = serializers.BooleanField(read_only=True)
    remote_write_url = serializers.CharField(read_only=True)

    class Meta:
        model = Datasource
        fields: ClassVar[list[str]] = [
            "id", "name", "kind", "url", "auth_type", "username", "password", "bearer_token", "has_secret",
            "timeout_seconds", "org_label", "is_default", "remote_write_url", "created_at", "updated_at",
        ]
        read_only_fields: ClassVar[list[str]] = ["id", "created_at", "updated_at"]
        validators: ClassVar[list[Any]] = []  # the single-default constraint is kept by services

    def validate_url(self, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise serializers.ValidationError("Enter an http:// or https:// URL with a host.")
        if parts.query or parts.fragment or parts.username:
            raise serializers.ValidationError("No query, fragment or credentials in the URL; use auth_type.")
        return value.strip().rstrip("/")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        inst: Datasource | None = self.instance  # type: ignore[assignment]
        auth = attrs.get("auth_type", inst.auth_type if inst else AuthType.NONE)
        has_password = bool(attrs.get("password")) or bool(inst and inst.password_encrypted)
        has_token = bool(attrs.get("bearer_token")) or bool(inst and inst.bearer_token_encrypted)
        if auth == AuthType.BASIC and not (attrs.get("username") or (inst and inst.username)):
            raise serializers.ValidationError({"username": "Basic auth needs a username."})
        if auth == AuthType.BASIC and not has_password:
            raise serializers.ValidationError({"password": "Basic auth needs a password."})
        if auth == AuthType.BEARER and not has_token:
            raise serializers.ValidationError({"bearer_token": "Bearer auth needs a token."})
        return attrs


class DatasourceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                        mixins.UpdateModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):  # type: ignore[type-arg]
    permission_classes = [IsStaff]  # noqa: RUF012 - DRF convention
    serializer_class = DatasourceSerializer
    queryset = Datasource.objects.all()

    def perform_create(self, serializer: serializers.BaseSerializer[Datasource]) -> None:
        serializer.instance = services.create_datasource(actor_from(self.request),
                                                         dict(serializer.validated_data))

    def perform_update(self, serializer: serializers.BaseSerializer[Datasource]) -> None:
        assert serializer.instance is not None
        serializer.instance = services.update_datasource(actor_from(self.request), serializer.instance,
                                                         dict(serializer.validated_data))

    def perform_destroy(self, instance: Datasource) -> None:
        services.delete_datasource(actor_from(self.request), instance)

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def test(self, request: Request, pk: str | None = None) -> Response:
        """Test connection: run a trivial query with the datasource's credentials."""
        result = services.test_datasource(actor_from(request), self.get_object())
        return Response(result, status=status.HTTP_200_OK)
