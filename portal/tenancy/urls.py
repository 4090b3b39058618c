from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, path
from rest_framework.routers import SimpleRouter

from portal.tenancy import api, platform, views

router = SimpleRouter(trailing_slash=True)
router.register("members", api.MemberViewSet, basename="member")
router.register("tokens", api.ApiTokenViewSet, basename="apitoken")
router.register("ingest-tokens", api.IngestTokenViewSet, basename="ingesttoken")
router.register("audit", api.AuditViewSet, basename="audit")

api_patterns: list[URLPattern | URLResolver] = [
    path("org/", api.CurrentOrgView.as_view(), name="api-org"),
    path("platform/orgs/", platform.PlatformOrgsView.as_view(), name="api-platform-orgs"),
    path("platform/audit/", platform.PlatformAuditView.as_view(), name="api-platform-audit"),
    *router.urls,
]

account_patterns: list[URLPattern | URLResolver] = [
    path("login/", views.ThrottledLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("password/change/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("password/reset/", views.ThrottledPasswordResetView.as_view(), name="password_reset"),
    path("password/reset/done/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("switch-org/", views.switch_org, name="switch-org"),
]

platform_patterns: list[URLPattern | URLResolver] = [
    path("audit/", platform.PlatformAuditPage.as_view(), name="platform-audit"),
]

org_patterns: list[URLPattern | URLResolver] = [
    path("", views.OrgHomeView.as_view(), name="org-home"),
    path("settings/members/", views.MembersView.as_view(), name="org-members"),
    path("settings/tokens/", views.TokensView.as_view(), name="org-tokens"),
    path("settings/audit/", views.AuditView.as_view(), name="org-audit"),
]
