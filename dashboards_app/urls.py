"""Browser pages of this app, mounted under /o/<org_slug>/."""

from django.urls import URLPattern, URLResolver, path

from dashboards_app import views

app_name = "dashboards"
urlpatterns: list[URLPattern | URLResolver] = [
    path("dashboards/", views.dashboard_list, name="list"),
    path("dashboards/new/", views.dashboard_new, name="new"),
    path("dashboards/builtin/<slug:slug>/", views.builtin_detail, name="builtin"),
    path("dashboards/<str:uid>/", views.dashboard_detail, name="detail"),
    path("dashboards/<str:uid>/versions/", views.dashboard_versions, name="versions"),
    path("explore/", views.explore, name="explore"),
]
