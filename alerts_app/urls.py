"""Browser pages of this app, mounted under /o/<org_slug>/."""

from django.urls import URLPattern, URLResolver, path

from . import views

app_name = "alerts"
urlpatterns: list[URLPattern | URLResolver] = [
    path("alerts/", views.alert_list, name="list"),
    path("alerts/rules/new/", views.rule_editor, name="rule-new"),
    path("alerts/rules/<int:rule_id>/", views.rule_editor, name="rule-edit"),
    path("alerts/channels/", views.channel_list, name="channels"),
    path("alerts/silences/", views.silence_list, name="silences"),
]
