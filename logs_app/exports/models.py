"""Export jobs and export schedules. Both are org-owned; files live under EXPORTS_DIR/<org id>/."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone

from portal.tenancy.scoping import OrgOwned


class ExportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    NDJSON = "ndjson", "NDJSON"


class ExportStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"


FINISHED = (ExportStatus.DONE, ExportStatus.FAILED, ExportStatus.CANCELLED, ExportStatus.EXPIRED)


class ExportSchedule(OrgOwned):
    """Run the same search every day or every week at `at_time` (UTC) and mail the owner the link."""

    class Frequency(models.TextChoices):
        DAILY = "daily", "Daily"
        WEEKLY = "weekly", "Weekly"

    name = models.CharField(max_length=200)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    query = models.CharField(max_length=2000, blank=True)
    format = models.CharField(max_length=8, choices=ExportFormat.choices, default=ExportFormat.CSV)
    gzip = models.BooleanField(default=True)
    frequency = models.CharField(max_length=8, choices=Frequency.choices, default=Frequency.DAILY)
    at_time = models.TimeField(default=time(6, 0))
    weekday = models.PositiveSmallIntegerField(default=0, help_text="0=Monday … 6=Sunday (weekly only)")
    enabled = models.BooleanField(default=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.frequency} {self.at_time:%H:%M})"

    def window(self) -> timedelta:
        """The time range each run covers: the period since the previous run."""
        return timedelta(days=7 if self.frequency == self.Frequency.WEEKLY else 1)

    def compute_next_run(self, after: datetime | None = None) -> datetime:
        """The first scheduled instant strictly after `after` (UTC)."""
        after = after or timezone.now()
        candidate = datetime.combine(after.date(), self.at_time, tzinfo=after.tzinfo)
        if self.frequency == self.Frequency.WEEKLY:
            candidate += timedelta(days=(self.weekday - candidate.weekday()) % 7)
            step = timedelta(days=7)
        else:
            step = timedelta(days=1)
        while candidate <= after:
            candidate += step
        return candidate


class Export(OrgOwned):
    """One export run: progress is updated by the task; `cancel_requested` is polled by it."""

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    schedule = models.ForeignKey(ExportSchedule, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="exports")
    query = models.CharField(max_length=2000, blank=True)
    start = models.DateTimeField()
    end = models.DateTimeField()
    format = models.CharField(max_length=8, choices=ExportFormat.choices, default=ExportFormat.CSV)
    gzip = models.BooleanField(default=True)
    status = models.CharField(max_length=12, choices=ExportStatus.choices, default=ExportStatus.PENDING,
                              db_index=True)
    rows_written = models.BigIntegerField(default=0)
    rows_total = models.BigIntegerField(null=True, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    file_name = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-created_at", "-id"]
        indexes: ClassVar[list[models.Index]] = [models.Index(fields=["org", "status"])]

    def __str__(self) -> str:
        return f"export {self.pk} ({self.format}{'.gz' if self.gzip else ''}, {self.status})"

    @property
    def percent(self) -> float | None:
        if self.status == ExportStatus.DONE:
            return 100.0
        if not self.rows_total:
            return 0.0 if self.rows_total == 0 else None
        return round(min(100.0, 100.0 * self.rows_written / self.rows_total), 1)

    @property
    def extension(self) -> str:
        return f".{self.format}" + (".gz" if self.gzip else "")

    def org_dir(self) -> Path:
        # The org id (not slug) names the folder: slugs can be renamed, ids cannot.
        return Path(settings.EXPORTS_DIR) / str(self.org_id)

    def file_path(self) -> Path | None:
        return self.org_dir() / self.file_name if self.file_name else None

    @property
    def download_name(self) -> str:
        return f"logs-export-{self.pk}{self.extension}"


# Registers the export tasks (and their beat entries) wherever the models load: worker, beat, web.
from logs_app.exports import tasks as _tasks  # noqa: E402, F401
