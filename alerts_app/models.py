"""Alert rules, recording rules, notification channels, per-org routing policy, sync state and history."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models
from django.utils import timezone

from portal.tenancy.scoping import OrgOwned


class Severity(models.TextChoices):
    CRITICAL = "critical", "Critical"
    WARNING = "warning", "Warning"
    INFO = "info", "Info"


class RuleKind(models.TextChoices):
    THRESHOLD = "threshold", "Threshold"
    PROMQL = "promql", "Raw PromQL"
    LOG = "log", "Log records"


class Comparator(models.TextChoices):
    GT = ">", ">"
    GE = ">=", ">="
    LT = "<", "<"
    LE = "<=", "<="
    EQ = "==", "=="
    NE = "!=", "!="


class SyncState(models.TextChoices):
    PENDING = "pending", "Pending"
    SYNCED = "synced", "Synced"
    ERROR = "error", "Error"


class ChannelKind(models.TextChoices):
    EMAIL = "email", "Email"
    SLACK = "slack", "Slack"
    TEAMS = "teams", "Microsoft Teams"
    PAGERDUTY = "pagerduty", "PagerDuty"
    WEBHOOK = "webhook", "Webhook"


def _default_severities() -> list[str]:
    return [Severity.CRITICAL, Severity.WARNING, Severity.INFO]


class Channel(OrgOwned):
    """Where an org's alerts go. Secrets (webhook URLs, routing keys, HMAC secret, header values) live
    only in `secrets_encrypted`; `config` holds what may be shown back (addresses, Slack channel)."""

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    config = models.JSONField(default=dict, blank=True)
    secrets_encrypted = models.TextField(blank=True, default="")
    severities = models.JSONField(default=_default_severities)
    send_resolved = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["name", "id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["org", "name"], name="alerts_channel_unique_name"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    @property
    def receiver_name(self) -> str:
        return f"org{self.org_id}-ch{self.pk}"


class Rule(OrgOwned):
    name = models.CharField(max_length=200)
    group = models.CharField(max_length=200, default="portal", help_text="Rule group (kept from imports).")
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.WARNING)
    kind = models.CharField(max_length=16, choices=RuleKind.choices, default=RuleKind.THRESHOLD)
    template = models.CharField(max_length=64, blank=True, default="")
    # threshold rules
    query = models.TextField(blank=True, default="")
    comparator = models.CharField(max_length=2, choices=Comparator.choices, default=Comparator.GT)
    threshold = models.FloatField(null=True, blank=True)
    # raw PromQL rules (as the user wrote it; the org matcher is injected at render time)
    expr = models.TextField(blank=True, default="")
    for_duration = models.CharField(max_length=32, default="0s")
    # log rules: at least `log_count` records matching `log_query` within `log_window_minutes`
    log_query = models.TextField(blank=True, default="")
    log_count = models.PositiveIntegerField(default=1)
    log_window_minutes = models.PositiveIntegerField(default=5)
    labels = models.JSONField(default=dict, blank=True)
    annotations = models.JSONField(default=dict, blank=True)
    enabled = models.BooleanField(default=True)
    channels = models.ManyToManyField(Channel, blank=True, related_name="rules")
    sync_state = models.CharField(max_length=16, choices=SyncState.choices, default=SyncState.PENDING)
    sync_error = models.TextField(blank=True, default="")
    synced_at = models.DateTimeField(null=True, blank=True)
    log_firing_since = models.DateTimeField(null=True, blank=True)
    # Why the last evaluation of a log rule failed ("" when it ran); one bad rule never stops the others.
    log_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["group", "name", "id"]
        indexes: ClassVar[list[models.Index]] = [models.Index(fields=["org", "sync_state"])]

    def __str__(self) -> str:
        return self.name


class RecordingRule(OrgOwned):
    group = models.CharField(max_length=200, default="portal-recording")
    record = models.CharField(max_length=200)
    expr = models.TextField()
    labels = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["group", "id"]

    def __str__(self) -> str:
        return self.record


class NotificationPolicy(OrgOwned):
    """Grouping, repeat interval and mute windows for the org's route (one per org)."""

    group_by = models.JSONField(default=list, blank=True)
    group_wait = models.CharField(max_length=16, default="30s")
    group_interval = models.CharField(max_length=16, default="5m")
    repeat_interval = models.CharField(max_length=16, default="4h")
    # Alertmanager time_intervals entries: [{"times": [{"start_time": "22:00", "end_time": "23:59"}],
    # "weekdays": ["saturday"], ...}]
    mute_time_intervals = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["org"], name="alerts_policy_one_per_org"),
        ]

    def __str__(self) -> str:
        return f"policy of org {self.org_id}"


class OrgSync(OrgOwned):
    """Coalescing: a change bumps `requested`; a sync renders everything and records `done` = the
    `requested` it saw. A queued sync that finds done >= requested has nothing to do."""

    requested = models.PositiveBigIntegerField(default=0)
    done = models.PositiveBigIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    last_synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["org"], name="alerts_orgsync_one_per_org"),
        ]

    def __str__(self) -> str:
        return f"sync of org {self.org_id}: {self.done}/{self.requested}"


class AlertEvent(OrgOwned):
    """One notification received from Alertmanager for one alert: the portal's alert timeline."""

    fingerprint = models.CharField(max_length=64, db_index=True)
    alertname = models.CharField(max_length=200)
    status = models.CharField(max_length=16)
    severity = models.CharField(max_length=16, blank=True, default="")
    labels = models.JSONField(default=dict)
    annotations = models.JSONField(default=dict)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.alertname} {self.status}"

    def as_dict(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint, "alertname": self.alertname, "status": self.status,
                "severity": self.severity, "labels": self.labels, "annotations": self.annotations,
                "starts_at": self.starts_at, "ends_at": self.ends_at, "received_at": self.received_at}
