from django.apps import AppConfig


class DashboardsAppConfig(AppConfig):
    name = "dashboards_app"
    default_auto_field = "django.db.models.BigAutoField"
