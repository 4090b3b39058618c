from __future__ import annotations

from typing import Any, ClassVar

from rest_framework import serializers

from portal.tenancy.models import ApiToken, AuditEntry, IngestToken, Membership, Organization, Role, TokenScope


class OrganizationSerializer(serializers.ModelSerializer[Organization]):
    class Meta:
        model = Organization
        fields: ClassVar[list[str]] = ["id", "slug", "name", "label_name", "label_value", "log_retention_days",
                                       "token_max_lifetime_days", "created_at"]
        read_only_fields: ClassVar[list[str]] = ["id", "slug", "label_name", "label_value", "created_at"]


class MembershipSerializer(serializers.ModelSerializer[Membership]):
    email = serializers.EmailField(source="user.email", read_only=True)

    class Meta:
        model = Membership
        fields: ClassVar[list[str]] = ["id", "email", "role", "created_at"]
        read_only_fields: ClassVar[list[str]] = ["id", "email", "created_at"]


class MemberAddSerializer(serializers.Serializer[Any]):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Role.choices)


class ApiTokenSerializer(serializers.ModelSerializer[ApiToken]):
    user = serializers.EmailField(source="user.email", read_only=True)
    active = serializers.BooleanField(source="is_active", read_only=True)

    class Meta:
        model = ApiToken
        fields: ClassVar[list[str]] = ["id", "name", "scope", "user", "lookup", "created_at", "expires_at",
                                       "last_used_at", "revoked_at", "active"]
        read_only_fields: ClassVar[list[str]] = ["id", "user", "lookup", "created_at", "last_used_at",
                                                 "revoked_at", "active"]


class ApiTokenCreateSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100)
    scope = serializers.ChoiceField(choices=TokenScope.choices, default=TokenScope.READ)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class TokenCreatedSerializer(ApiTokenSerializer):
    """The create response: the only time the secret is ever shown."""

    token = serializers.CharField(read_only=True)

    class Meta(ApiTokenSerializer.Meta):
        fields: ClassVar[list[str]] = [*ApiTokenSerializer.Meta.fields, "token"]


class IngestTokenSerializer(serializers.ModelSerializer[IngestToken]):
    active = serializers.BooleanField(source="is_active", read_only=True)

    class Meta:
        model = IngestToken
        fields: ClassVar[list[str]] = ["id", "name", "lookup", "created_at", "last_used_at", "revoked_at", "active"]
        read_only_fields: ClassVar[list[str]] = ["id", "lookup", "created_at", "last_used_at", "revoked_at",
                                                 "active"]


class IngestTokenCreatedSerializer(IngestTokenSerializer):
    token = serializers.CharField(read_only=True)

    class Meta(IngestTokenSerializer.Meta):
        fields: ClassVar[list[str]] = [*IngestTokenSerializer.Meta.fields, "token"]


class AuditEntrySerializer(serializers.ModelSerializer[AuditEntry]):
    org: serializers.SlugRelatedField[Organization] = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = AuditEntry
        fields: ClassVar[list[str]] = ["id", "created_at", "org", "actor_label", "action", "object_type",
                                       "object_id", "object_repr", "changes", "ip"]
        read_only_fields = fields
