from typing import Any

from django.apps import AppConfig
from django.core import checks


class AlertsAppConfig(AppConfig):
    name = "alerts_app"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        checks.register(platform_alert_settings, checks.Tags.compatibility)


def platform_alert_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """A wrong staff destination would make every generated Alertmanager config fail amtool (and so every
    org's sync): refuse it at start (`manage.py migrate` / `check`), naming the setting."""
    from django.conf import settings
    from django.core.exceptions import ValidationError
    from django.core.validators import URLValidator, validate_email

    from alerts_app.am_validation import duration_error

    errors: list[checks.CheckMessage] = []
    for address in (a.strip() for a in settings.PLATFORM_ALERTS_EMAIL.split(",")):
        try:
            if address:
                validate_email(address)
        except ValidationError:
            errors.append(checks.Error(f"PLATFORM_ALERTS_EMAIL: {address!r} is not an email address.",
                                       id="alerts.E001"))
    url = settings.PLATFORM_ALERTS_WEBHOOK_URL.strip()
    try:
        if url:
            URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        errors.append(checks.Error(f"PLATFORM_ALERTS_WEBHOOK_URL: {url!r} is not an http(s) URL.", id="alerts.E002"))
    if problem := duration_error(settings.PLATFORM_ALERTS_GROUP_WAIT, positive=False):
        errors.append(checks.Error(f"PLATFORM_ALERTS_GROUP_WAIT: {problem}", id="alerts.E003"))
    return errors
