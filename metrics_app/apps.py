from django.apps import AppConfig


class MetricsAppConfig(AppConfig):
    name = "metrics_app"
    default_auto_field = "django.db.models.BigAutoField"
