"""API shapes and validation. Channel secrets are write-only: accepted under `secrets`, never returned.
The writes (secrets encrypted, sync requested, audited) are `services.RULES` / `services.CHANNELS`."""

from __future__ import annotations

from typing import Any

from django.core.validators import URLValidator, validate_email
from rest_framework import serializers

from portal.backends import outbound
from portal.errors import ServiceError
from portal.tenancy.api_base import OrgRelatedField

from . import am_validation, services
from . import secrets as channel_secrets
from .models import Channel, ChannelKind, NotificationPolicy, RecordingRule, Rule, Severity

RULE_FIELDS = ["name", "group", "severity", "kind", "template", "query", "comparator", "threshold", "expr",
               "for_duration", "log_query", "log_count", "log_window_minutes", "labels", "annotations", "enabled"]


class RuleSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    channels = OrgRelatedField(many=True, queryset=Channel.objects.all_orgs(), required=False)

    class Meta:
        model = Rule
        fields = ["id", *RULE_FIELDS, "channels", "sync_state", "sync_error", "synced_at", "log_error", "created_at",
                  "updated_at"]
        read_only_fields = ["sync_state", "sync_error", "synced_at", "log_error", "created_at", "updated_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        merged = {f: getattr(self.instance, f) for f in RULE_FIELDS} if self.instance else {}
        merged.update(attrs)
        services.check_rule(self.context["org"], merged)
        return attrs


class RecordingRuleSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = RecordingRule
        fields = ["id", "group", "record", "expr", "labels", "created_at"]
        read_only_fields = fields


class ChannelSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    secrets = serializers.DictField(write_only=True, required=False,
                                    help_text="webhook_url (Slack, Teams), routing_key (PagerDuty), url, "
                                              "hmac_secret, headers (webhook). Never returned.")
    secrets_set = serializers.SerializerMethodField()

    class Meta:
        model = Channel
        fields = ["id", "name", "kind", "config", "severities", "send_resolved", "secrets", "secrets_set",
                  "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]

    def get_secrets_set(self, obj: Channel) -> list[str]:
        return channel_secrets.configured(obj)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        kind = attrs.get("kind") or (self.instance.kind if self.instance else None)
        if self.instance and "kind" in attrs and attrs["kind"] != self.instance.kind:
            raise _bad("kind", "the kind of a channel cannot change; create a new channel")
        config = attrs.get("config", self.instance.config if self.instance else {}) or {}
        if not isinstance(config, dict):
            raise _bad("config", "an object")
        if kind in channel_secrets.SECRET_FIELDS and (problem := am_validation.channel_config_error(str(kind), config)):
            raise _bad(*problem)
        secret_in = attrs.get("secrets") or {}
        existing = channel_secrets.read(self.instance) if self.instance else {}
        have = {**existing, **{k: v for k, v in secret_in.items() if v}}
        allowed = channel_secrets.SECRET_FIELDS.get(str(kind), ())
        if unknown := [k for k in secret_in if k not in allowed]:
            raise _bad("secrets", f"{unknown[0]!r} is not a secret of a {kind} channel")
        if bad := [k for k, v in secret_in.items() if k != "headers" and not isinstance(v, str)]:
            raise _bad(f"secrets.{bad[0]}", "a string")
        url = URLValidator(schemes=["http", "https"])
        if kind == ChannelKind.EMAIL:
            addresses = config.get("addresses")
            if not isinstance(addresses, list) or not addresses:
                raise _bad("config.addresses", "at least one email address")
            for a in addresses:
                if not isinstance(a, str):
                    raise _bad("config.addresses", "a list of email addresses")
                try:
                    validate_email(a)
                except Exception as exc:
                    raise _bad("config.addresses", f"{a!r} is not an email address") from exc
        elif kind in (ChannelKind.SLACK, ChannelKind.TEAMS):
            _need_url(url, have.get("webhook_url"), "secrets.webhook_url")
        elif kind == ChannelKind.PAGERDUTY:
            if not have.get("routing_key"):
                raise _bad("secrets.routing_key", "the Events API v2 routing key is required")
            if err := am_validation.routing_key_error(have["routing_key"]):
                raise _bad("secrets.routing_key", err)
            if not self.instance and "severities" not in attrs:
                attrs["severities"] = [Severity.CRITICAL]  # PagerDuty pages: critical alerts by default
        elif kind == ChannelKind.WEBHOOK:
            outbound.check_headers(have.get("headers") or {}, "secrets.headers")
            _need_url(url, have.get("url"), "secrets.url")
        severities = attrs.get("severities")
        if severities is not None and (not isinstance(severities, list)
                                       or not set(severities) <= set(Severity.values)):
            raise _bad("severities", f"a list of {', '.join(Severity.values)}")
        return attrs


def _bad(field: str, message: str) -> ServiceError:
    return ServiceError(400, "invalid", f"{field}: {message}", {"field": field})


def _need_url(validator: URLValidator, value: Any, field: str) -> None:
    if not isinstance(value, str):
        raise _bad(field, "an http(s) URL is required")
    try:
        validator(value or "")
    except Exception as exc:
        raise _bad(field, "an http(s) URL is required") from exc
    # Last: it resolves the name. Checked again at every send (the portal's relay pins the address).
    outbound.check_url(value, field)


class PolicySerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = NotificationPolicy
        fields = ["group_by", "group_wait", "group_interval", "repeat_interval", "mute_time_intervals", "updated_at"]
        read_only_fields = ["updated_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        for f, v in attrs.items():
            if v is None:
                raise _bad(f, "may not be null")
        for f in am_validation.POSITIVE_DURATIONS:
            if f in attrs and (err := am_validation.duration_error(attrs[f])):
                raise _bad(f, err)
        if "group_by" in attrs and (err := am_validation.group_by_error(attrs["group_by"])):
            raise _bad("group_by", err)
        windows = attrs.get("mute_time_intervals")
        if windows is not None:
            _check_windows(windows)
        return attrs


_WINDOW_KEYS = {"times", "weekdays", "days_of_month", "months", "years", "location"}


def _check_windows(windows: Any) -> None:
    if not isinstance(windows, list) or not all(isinstance(w, dict) for w in windows):
        raise _bad("mute_time_intervals", "a list of time interval objects")
    for i, w in enumerate(windows):
        if unknown := set(w) - _WINDOW_KEYS:
            raise _bad(f"mute_time_intervals[{i}]", f"unknown key {sorted(unknown)[0]!r}")
    # amtool check-config validates the details (time formats, weekday names) before anything is written.
    import yaml

    from . import checks, render

    cfg = yaml.safe_load(render.render_alertmanager_config([], {}, {}, {}))
    cfg["time_intervals"] = [{"name": "check", "time_intervals": windows}]
    cfg["route"]["routes"] = [{"receiver": render.BLACKHOLE, "mute_time_intervals": ["check"]}]
    try:
        checks.check_alertmanager_config(yaml.safe_dump(cfg))
    except checks.CheckFailed as exc:
        raise _bad("mute_time_intervals", exc.output.splitlines()[-1] if exc.output else "invalid") from exc
