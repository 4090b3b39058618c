"""Self-service scrape targets and per-org ingest limit overrides."""

from __future__ import annotations

from typing import ClassVar

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from portal.credentials import HttpCredentials
from portal.tenancy.scoping import OrgManager, OrgOwned

path_validator = RegexValidator(r"^/[A-Za-z0-9/_.~%-]*\Z", "an absolute URL path, e.g. /metrics")


class Scheme(models.TextChoices):
    HTTP = "http", "http"
    HTTPS = "https", "https"


class ScrapeTarget(OrgOwned, HttpCredentials):
    """An exporter the platform Prometheus scrapes for the org (written to the org's file_sd file)."""

    name = models.CharField(max_length=100)
    address = models.CharField(max_length=255, help_text="host:port")
    metrics_path = models.CharField(max_length=255, default="/metrics", validators=[path_validator])
    scheme = models.CharField(max_length=5, choices=Scheme.choices, default=Scheme.HTTP)
    interval_seconds = models.PositiveIntegerField(default=30, validators=[MinValueValidator(5),
                                                                           MaxValueValidator(3600)])
    labels = models.JSONField(default=dict, blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects: OrgManager[ScrapeTarget] = OrgManager()  # type: ignore[assignment]

    class Meta:
        ordering: ClassVar[list[str]] = ["name", "id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["org", "name"], name="scrapetarget_unique_org_name"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.address})"



class IngestLimits(OrgOwned):
    """Per-org overrides of the METRICS_IN_* defaults; null means "the default". Set by staff only."""

    samples_per_second = models.PositiveIntegerField(null=True, blank=True)
    max_active_series = models.PositiveIntegerField(null=True, blank=True)
    max_labels_per_series = models.PositiveIntegerField(null=True, blank=True)
    max_label_name_length = models.PositiveIntegerField(null=True, blank=True)
    max_label_value_length = models.PositiveIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects: OrgManager[IngestLimits] = OrgManager()  # type: ignore[assignment]

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["org"], name="ingestlimits_unique_org"),
        ]

    def __str__(self) -> str:
        return f"ingest limits of org {self.org_id}"
