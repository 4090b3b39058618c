from django.apps import AppConfig


class MetricsInAppConfig(AppConfig):
    name = "metrics_in_app"
    default_auto_field = "django.db.models.BigAutoField"
