"""Metrics datasources: the Prometheus-HTTP-API backends the portal queries *as an organization*.

Datasources are platform configuration managed by staff, not org-owned: every org queries the default
one, and isolation comes from the enforced org matcher (or `X-Scope-OrgID` for multi-tenant backends).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from portal.credentials import HttpCredentials
from portal.tenancy.models import label_name_validator

if TYPE_CHECKING:
    from portal.tenancy.models import Organization


class DatasourceKind(models.TextChoices):
    PROMETHEUS = "prometheus", "Prometheus"
    VICTORIAMETRICS = "victoriametrics", "VictoriaMetrics"
    MIMIR = "mimir", "Grafana Mimir / Cortex"


# Paths of the remote-write receiver per kind.
_REMOTE_WRITE_PATH = {
    DatasourceKind.PROMETHEUS: "/api/v1/write",
    DatasourceKind.VICTORIAMETRICS: "/api/v1/write",
    DatasourceKind.MIMIR: "/api/v1/push",
}
# Where the Prometheus query API lives under the base URL (Mimir serves it under /prometheus).
_QUERY_PREFIX = {
    DatasourceKind.PROMETHEUS: "",
    DatasourceKind.VICTORIAMETRICS: "",
    DatasourceKind.MIMIR: "/prometheus",
}


class Datasource(HttpCredentials):
    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=DatasourceKind.choices, default=DatasourceKind.PROMETHEUS)
    url = models.URLField(max_length=500, help_text="Base URL, e.g. http://prometheus:9090")
    timeout_seconds = models.FloatField(
        default=30.0, validators=[MinValueValidator(0.1), MaxValueValidator(600.0)],
        help_text="Query timeout passed to the backend; the HTTP timeout is slightly longer.",
    )
    org_label = models.CharField(
        max_length=64, default="org_id", validators=[label_name_validator],
        help_text="The label carrying the organization (ignored for mimir, which uses X-Scope-OrgID).",
    )
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-is_default", "name"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["is_default"], condition=models.Q(is_default=True),
                                    name="datasource_single_default"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    @property
    def is_multi_tenant(self) -> bool:
        """Multi-tenant backends get the org as X-Scope-OrgID instead of an injected label."""
        return self.kind == DatasourceKind.MIMIR

    @property
    def base_url(self) -> str:
        return self.url.rstrip("/")

    @property
    def query_url(self) -> str:
        """Base of the Prometheus HTTP API: `<query_url>/api/v1/query` etc."""
        return self.base_url + _QUERY_PREFIX[DatasourceKind(self.kind)]

    @property
    def remote_write_url(self) -> str:
        return self.base_url + _REMOTE_WRITE_PATH[DatasourceKind(self.kind)]

    def headers_for(self, org: Organization | None) -> dict[str, str]:
        """Headers for a request made as `org` (None: staff cross-org mode, no tenant header)."""
        headers = self.auth_headers()
        if self.is_multi_tenant and org is not None:
            headers["X-Scope-OrgID"] = org.label_value
        return headers

    # ------------------------------------------------------------ which one

    @classmethod
    def configured_for(cls, org: Organization | None = None) -> Datasource | None:
        """The datasource `org` queries: the default in the DB, else the only/first one, else one
        synthesised (unsaved) from settings.PROMETHEUS_URL, else None."""
        # One indexed SELECT per query; not cached in-process, so a change (or a test's rollback) is
        # seen by the very next query.
        ds = cls.objects.order_by("-is_default", "name").first()  # the default, else the first by name
        if ds is not None:
            return ds
        if settings.PROMETHEUS_URL:
            return cls.from_settings()
        return None

    @classmethod
    def for_org(cls, org: Organization | None = None) -> Datasource:
        """Like `configured_for`, but a clear 503 (portal.errors.ServiceError) when none is configured."""
        ds = cls.configured_for(org)
        if ds is None:
            from portal.errors import backend_not_configured

            raise backend_not_configured("prometheus",
                                         "No metrics datasource is configured (set PROMETHEUS_URL or add one).")
        return ds

    @classmethod
    def from_settings(cls) -> Datasource:
        kind = getattr(settings, "PROMETHEUS_KIND", DatasourceKind.PROMETHEUS) or DatasourceKind.PROMETHEUS
        if kind not in DatasourceKind.values:
            from portal.errors import backend_not_configured

            raise backend_not_configured("prometheus", f"PROMETHEUS_KIND={kind!r} is not one of "
                                                       f"{', '.join(DatasourceKind.values)}.")
        return cls(
            name="default",
            kind=kind,
            url=settings.PROMETHEUS_URL,
            timeout_seconds=getattr(settings, "METRICS_QUERY_TIMEOUT_SECONDS", 30.0),
            org_label="org_id",
            is_default=True,
        )



class PlatformSeries(models.Model):
    """A recording rule every organization may read without its org matcher (metrics_app.platform_series).

    Platform configuration, not org-owned: staff define it, the rule sync writes the enabled ones into
    Prometheus, and the enforcer reads them with `org_id=""` instead of the org's matcher. The expression
    is checked when saved through the API (metrics_app.platform_check): it must aggregate the org label
    away, or every org could read every other org's series through it."""

    name = models.CharField(max_length=200, unique=True,
                            help_text="Recording-rule name, level:metric:operations (e.g. platform:service_up:ratio).")
    expr = models.TextField(help_text="PromQL over the shared deployment's series; must aggregate the org label away.")
    description = models.TextField(blank=True, default="")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["name"]
        verbose_name_plural = "platform series"

    def __str__(self) -> str:
        return self.name
