"""Seed the shipped platform series (metrics_app.platform_series.DEFAULT_PLATFORM_SERIES)."""

from typing import Any

from django.db import migrations


def seed(apps: Any, schema_editor: Any) -> None:
    from metrics_app.platform_series import DEFAULT_DESCRIPTIONS, DEFAULT_PLATFORM_SERIES

    model = apps.get_model("metrics_app", "PlatformSeries")
    for name, expr in DEFAULT_PLATFORM_SERIES.items():
        model.objects.get_or_create(name=name, defaults={"expr": expr,
                                                         "description": DEFAULT_DESCRIPTIONS.get(name, "")})


def unseed(apps: Any, schema_editor: Any) -> None:
    from metrics_app.platform_series import DEFAULT_PLATFORM_SERIES

    apps.get_model("metrics_app", "PlatformSeries").objects.filter(name__in=list(DEFAULT_PLATFORM_SERIES)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("metrics_app", "0003_platform_series"),
    ]

    operations = [
        migrations.RunPython(seed, unseed),
    ]
