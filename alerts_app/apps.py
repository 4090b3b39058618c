from django.apps import AppConfig


class AlertsAppConfig(AppConfig):
    name = "alerts_app"
    default_auto_field = "django.db.models.BigAutoField"
