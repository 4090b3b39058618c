"""Public (token-signed) inbound hooks, mounted under /hooks/."""

from django.urls import URLPattern, URLResolver, path

from . import hooks

urlpatterns: list[URLPattern | URLResolver] = [
    path("alertmanager/<int:org_id>/<str:receiver>/", hooks.alertmanager_hook, name="alertmanager-hook"),
]
