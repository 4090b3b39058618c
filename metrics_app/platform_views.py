"""The staff page listing platform series (`/platform/platform-series/`); changes go through the API."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.mixins import UserPassesTestMixin
from django.views.generic import TemplateView

from . import platform_series
from .models import PlatformSeries


class PlatformSeriesPage(UserPassesTestMixin, TemplateView):
    template_name = "metrics_app/platform_series.html"

    def test_func(self) -> bool:
        return bool(self.request.user.is_authenticated and self.request.user.is_staff)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        ctx = super().get_context_data(**kwargs)
        ctx.update(series=PlatformSeries.objects.all(), org_label=platform_series.org_label_name(),
                   file_name=platform_series.rules_path().name)
        return ctx
