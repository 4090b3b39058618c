"""REST endpoints of this app, mounted under /api/v1/."""

from django.urls import URLPattern, URLResolver, path
from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter(trailing_slash=True)
router.register("alerts/rules", api.RuleViewSet, basename="alert-rule")
router.register("alerts/recording-rules", api.RecordingRuleViewSet, basename="alert-recording-rule")
router.register("alerts/channels", api.ChannelViewSet, basename="alert-channel")

urlpatterns: list[URLPattern | URLResolver] = [
    path("alerts/policy/", api.PolicyView.as_view(), name="alert-policy"),
    path("alerts/sync/", api.SyncView.as_view(), name="alert-sync"),
    path("alerts/active/", api.ActiveAlertsView.as_view(), name="alert-active"),
    path("alerts/silences/", api.SilencesView.as_view(), name="alert-silences"),
    path("alerts/silences/<uuid:silence_id>/", api.SilenceDetailView.as_view(), name="alert-silence"),
    path("alerts/history/", api.HistoryView.as_view(), name="alert-history"),
    *router.urls,
]
