"""factory_boy factories: one for every org-owned model (a model with an `org` foreign key).

`factory_for(model)` is how contract tests find them; a model without a factory makes those tests fail,
so a new org-owned model cannot slip past the isolation checks. Factories write rows directly (no audit,
no sync request): they set up state, they do not exercise services.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.db import models
from django.utils import timezone
from factory.django import DjangoModelFactory

from alerts_app import models as alerts
from dashboards_app import models as dashboards
from dashboards_app import spec
from logs_app.exports import models as exports
from logs_app.saved_searches.models import SavedSearch
from metrics_in_app import models as metrics_in
from portal.tenancy import models as tenancy


class UserFactory(DjangoModelFactory):
    class Meta:
        model = get_user_model()

    username = factory.Sequence(lambda n: f"user{n}@factory.example")
    email = factory.SelfAttribute("username")


class OrganizationFactory(DjangoModelFactory):
    class Meta:
        model = tenancy.Organization

    slug = factory.Sequence(lambda n: f"org{n}")
    name = factory.LazyAttribute(lambda o: f"Org {o.slug}")
    label_value = factory.SelfAttribute("slug")


class OrgOwnedFactory(DjangoModelFactory):
    """Every org-owned factory takes `org`; without one it makes a fresh org."""

    class Meta:
        abstract = True

    org = factory.SubFactory(OrganizationFactory)


class MembershipFactory(OrgOwnedFactory):
    class Meta:
        model = tenancy.Membership

    user = factory.SubFactory(UserFactory)
    role = tenancy.Role.VIEWER


class ApiTokenFactory(OrgOwnedFactory):
    class Meta:
        model = tenancy.ApiToken

    name = factory.Sequence(lambda n: f"token {n}")
    user = factory.LazyAttribute(lambda o: MembershipFactory(org=o.org).user)
    scope = tenancy.TokenScope.READ
    lookup = factory.LazyFunction(lambda: secrets.token_hex(6))
    secret_hash = factory.LazyFunction(lambda: secrets.token_hex(32))


class IngestTokenFactory(OrgOwnedFactory):
    class Meta:
        model = tenancy.IngestToken

    name = factory.Sequence(lambda n: f"ingest {n}")
    lookup = factory.LazyFunction(lambda: secrets.token_hex(6))
    secret_hash = factory.LazyFunction(lambda: secrets.token_hex(32))


class AuditEntryFactory(OrgOwnedFactory):
    class Meta:
        model = tenancy.AuditEntry

    actor_label = "factory@example"
    action = "update"
    object_type = "dashboard"
    object_id = factory.Sequence(str)
    object_repr = factory.Sequence(lambda n: f"object {n}")
    changes = factory.LazyFunction(lambda: {"title": ["old", "new"]})


class ScrapeTargetFactory(OrgOwnedFactory):
    class Meta:
        model = metrics_in.ScrapeTarget

    name = factory.Sequence(lambda n: f"exporter-{n}")
    address = factory.Sequence(lambda n: f"exporter{n}.example.com:9100")
    labels = factory.LazyFunction(lambda: {"team": "factory"})


class IngestLimitsFactory(OrgOwnedFactory):
    class Meta:
        model = metrics_in.IngestLimits

    samples_per_second = 1000
    max_active_series = 5000


def _dashboard_spec(title: str) -> dict[str, Any]:
    return spec.normalize({"title": title, "tags": ["factory"],
                           "panels": [{"type": "text", "title": "Notes", "options": {"content": "hello"}}]})


class DashboardFactory(OrgOwnedFactory):
    """A dashboard with its first version, as the service saves it (restore and diff need the version)."""

    class Meta:
        model = dashboards.Dashboard
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"Dashboard {n}")
    tags = factory.LazyFunction(lambda: ["factory"])
    spec = factory.LazyAttribute(lambda o: _dashboard_spec(o.title))
    version = 1

    @factory.post_generation
    def first_version(obj: dashboards.Dashboard, create: bool, extracted: Any, **kwargs: Any) -> None:  # noqa: N805
        if create:
            dashboards.DashboardVersion.objects.create(org=obj.org, dashboard=obj, version=obj.version,
                                                       spec=obj.spec, message="created")


class DashboardVersionFactory(OrgOwnedFactory):
    class Meta:
        model = dashboards.DashboardVersion

    dashboard = factory.SubFactory(DashboardFactory, org=factory.SelfAttribute("..org"))
    version = factory.Sequence(lambda n: n + 2)  # the dashboard factory already wrote version 1
    spec = factory.LazyAttribute(lambda o: _dashboard_spec(o.dashboard.title))
    message = "saved"


class QueryHistoryFactory(OrgOwnedFactory):
    class Meta:
        model = dashboards.QueryHistory

    user = factory.LazyAttribute(lambda o: MembershipFactory(org=o.org).user)
    query = factory.Sequence(lambda n: f"rate(http_requests_total{{job=\"api{n}\"}}[5m])")


class ChannelFactory(OrgOwnedFactory):
    class Meta:
        model = alerts.Channel

    name = factory.Sequence(lambda n: f"channel-{n}")
    kind = alerts.ChannelKind.EMAIL
    config = factory.LazyFunction(lambda: {"addresses": ["oncall@factory.example"]})


class RuleFactory(OrgOwnedFactory):
    class Meta:
        model = alerts.Rule

    name = factory.Sequence(lambda n: f"HighLatency{n}")
    kind = alerts.RuleKind.THRESHOLD
    query = "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))"
    comparator = alerts.Comparator.GT
    threshold = 0.5
    for_duration = "5m"
    labels = factory.LazyFunction(lambda: {"team": "factory"})
    annotations = factory.LazyFunction(lambda: {"summary": "p99 latency is high"})


class RecordingRuleFactory(OrgOwnedFactory):
    class Meta:
        model = alerts.RecordingRule

    record = factory.Sequence(lambda n: f"job:http_requests:rate5m_{n}")
    expr = "sum by (job) (rate(http_requests_total[5m]))"


class NotificationPolicyFactory(OrgOwnedFactory):
    class Meta:
        model = alerts.NotificationPolicy

    group_by = factory.LazyFunction(lambda: ["alertname"])


class OrgSyncFactory(OrgOwnedFactory):
    class Meta:
        model = alerts.OrgSync

    requested = 1
    done = 1


class AlertEventFactory(OrgOwnedFactory):
    class Meta:
        model = alerts.AlertEvent

    fingerprint = factory.LazyFunction(lambda: secrets.token_hex(8))
    alertname = factory.Sequence(lambda n: f"HighLatency{n}")
    status = "firing"
    severity = "warning"
    labels = factory.LazyAttribute(lambda o: {"alertname": o.alertname, "severity": o.severity})
    annotations = factory.LazyFunction(lambda: {"summary": "p99 latency is high"})
    starts_at = factory.LazyFunction(timezone.now)


class ExportScheduleFactory(OrgOwnedFactory):
    class Meta:
        model = exports.ExportSchedule

    name = factory.Sequence(lambda n: f"daily errors {n}")
    owner = factory.LazyAttribute(lambda o: MembershipFactory(org=o.org, role=tenancy.Role.EDITOR).user)
    query = "level:error"
    next_run_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=1))


class ExportFactory(OrgOwnedFactory):
    class Meta:
        model = exports.Export

    created_by = factory.LazyAttribute(lambda o: MembershipFactory(org=o.org, role=tenancy.Role.EDITOR).user)
    query = "level:error"
    start = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=1))
    end = factory.LazyFunction(timezone.now)
    status = exports.ExportStatus.PENDING
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))


class SavedSearchFactory(OrgOwnedFactory):
    class Meta:
        model = SavedSearch

    name = factory.Sequence(lambda n: f"errors of api {n}")
    query = "level=error service=api"
    window = "24h"
    created_by = factory.LazyAttribute(lambda o: MembershipFactory(org=o.org, role=tenancy.Role.EDITOR).user)

def _concrete_factories() -> dict[type[models.Model], type[DjangoModelFactory]]:
    found: dict[type[models.Model], type[DjangoModelFactory]] = {}
    pending: list[type[DjangoModelFactory]] = [OrgOwnedFactory]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if not cls._meta.abstract and cls._meta.model is not None:
            found[cls._meta.model] = cls
    return found


FACTORIES = _concrete_factories()


def org_owned_models() -> list[type[models.Model]]:
    """Every installed model with a concrete foreign key to Organization."""
    from django.apps import apps

    return [m for m in apps.get_models() if any(
        f.concrete and f.is_relation and f.related_model is tenancy.Organization for f in m._meta.get_fields())]


def factory_for(model: type[models.Model]) -> type[DjangoModelFactory]:
    try:
        return FACTORIES[model]
    except KeyError:
        raise LookupError(
            f"{model._meta.label} is org-owned but has no factory in tests/factories.py: add one so the "
            "object-level isolation contract covers it") from None
