"""API shapes of scrape targets; secrets are write-only and never read back."""

from __future__ import annotations

from typing import Any, ClassVar

from rest_framework import serializers

from metrics_in_app import services
from metrics_in_app.models import ScrapeTarget


class ScrapeTargetSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    password = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=500)
    bearer_token = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=4000)
    secret_set = serializers.SerializerMethodField()

    class Meta:
        model = ScrapeTarget
        fields: ClassVar[list[str]] = [
            "id", "name", "address", "metrics_path", "scheme", "interval_seconds", "labels", "auth_type",
            "username", "password", "bearer_token", "secret_set", "enabled", "created_at", "updated_at",
        ]
        read_only_fields: ClassVar[list[str]] = ["id", "created_at", "updated_at"]

    def get_secret_set(self, obj: ScrapeTarget) -> bool:
        return bool(obj.password_encrypted or obj.bearer_token_encrypted)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return services.clean_target(self.context["org"], attrs, self.instance)


class IngestLimitsSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """The org's effective limits; in a PATCH, null resets one to the platform default."""

    samples_per_second = serializers.IntegerField(min_value=1, allow_null=True, required=False)
    max_active_series = serializers.IntegerField(min_value=1, allow_null=True, required=False)
    max_labels_per_series = serializers.IntegerField(min_value=1, allow_null=True, required=False)
    max_label_name_length = serializers.IntegerField(min_value=1, allow_null=True, required=False)
    max_label_value_length = serializers.IntegerField(min_value=1, allow_null=True, required=False)


class TargetHealthSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField()
    name = serializers.CharField()
    address = serializers.CharField()
    enabled = serializers.BooleanField()
    health = serializers.CharField(help_text="up, down, unknown or disabled")
    last_scrape = serializers.CharField(allow_null=True)
    last_error = serializers.CharField()
    scrape_url = serializers.CharField()
    last_scrape_duration = serializers.FloatField(allow_null=True)
