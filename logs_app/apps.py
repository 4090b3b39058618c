from typing import Any

from django.apps import AppConfig


class LogsAppConfig(AppConfig):
    name = "logs_app"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_delete

        from portal.tenancy.models import Organization

        post_delete.connect(_delete_org_telemetry, sender=Organization, dispatch_uid="logs_app.org_deleted")
        from portal.tenancy.signals import access_reduced

        access_reduced.connect(_member_access_reduced, dispatch_uid="logs_app.member_access_reduced")
        connection_created.connect(_sqlite_regexp, dispatch_uid="logs_app.sqlite_regexp")


def _sqlite_regexp(sender: Any, connection: Any, **kwargs: Any) -> None:
    """Searches' REGEXP on SQLite in linear time (RE2), for every connection the process opens."""
    if connection.vendor == "sqlite":
        from logs_app.query.regex import install_sqlite_regexp

        install_sqlite_regexp(connection.connection)


def _delete_org_telemetry(sender: Any, instance: Any, **kwargs: Any) -> None:
    """The log store has no foreign key to the org (partitioned tables): remove its rows explicitly."""
    from datetime import UTC, datetime

    from logs_app.store import get_store

    get_store().delete_older_than(instance, datetime(9999, 1, 1, tzinfo=UTC))


def _member_access_reduced(sender: Any, org: Any, user: Any, role: str | None, actor: Any = None,
                           **kwargs: Any) -> None:
    from logs_app.exports.services import end_member_access

    end_member_access(org, user, role, actor=actor)
