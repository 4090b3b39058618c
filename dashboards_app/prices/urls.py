"""The staff page of the model price table, mounted under /platform/."""

from django.urls import URLPattern, URLResolver, path

from dashboards_app.prices import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("model-prices/", views.ModelPricesPage.as_view(), name="platform-model-prices"),
]
