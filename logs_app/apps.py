from typing import Any

from django.apps import AppConfig


class LogsAppConfig(AppConfig):
    name = "logs_app"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_delete

        from portal.tenancy.models import Organization

        post_delete.connect(_delete_org_telemetry, sender=Organization, dispatch_uid="logs_app.org_deleted")


def _delete_org_telemetry(sender: Any, instance: Any, **kwargs: Any) -> None:
    """The log store has no foreign key to the org (partitioned tables): remove its rows explicitly."""
    from datetime import UTC, datetime

    from logs_app.store import get_store

    get_store().delete_older_than(instance, datetime(9999, 1, 1, tzinfo=UTC))
