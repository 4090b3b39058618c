from __future__ import annotations

from typing import Any

from django.apps import AppConfig


def datasource_checks() -> list[Any]:
    """One readiness probe per stored datasource, with its own credentials."""
    from metrics_app.federation import test_connection
    from metrics_app.models import Datasource

    def probe(ds: Datasource) -> Any:
        def run() -> None:
            result = test_connection(ds)
            if not result["ok"]:
                raise RuntimeError(result["message"])

        return run

    return [(f"datasource:{ds.name}", False, probe(ds)) for ds in Datasource.objects.all()]


class MetricsAppConfig(AppConfig):
    name = "metrics_app"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from portal.backends import readiness

        readiness.register(datasource_checks)
