"""The staff page of the model price table (`/platform/model-prices/`): list, add, edit, delete.

A staff path, like the platform audit page: non-staff users get 403, anonymous ones the login page.
Validation is the API's serializer, so the page and the API accept and refuse the same input.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import UserPassesTestMixin
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.generic import TemplateView

from dashboards_app import pricing
from dashboards_app.models import ModelPrice
from dashboards_app.prices import services
from dashboards_app.prices.api import ModelPriceSerializer
from portal.errors import ServiceError
from portal.tenancy.audit import actor_from


def _first_error(errors: Any) -> str:
    for field, problems in dict(errors).items():
        text = problems[0] if isinstance(problems, list) and problems else problems
        return f"{field}: {text}"
    return "invalid input"


class ModelPricesPage(UserPassesTestMixin, TemplateView):
    template_name = "dashboards_app/model_prices.html"

    def test_func(self) -> bool:
        return bool(self.request.user.is_authenticated and self.request.user.is_staff)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        ctx = super().get_context_data(**kwargs)
        ctx.update(prices=pricing.prices(), platform=True, form_error=kwargs.get("form_error"),
                   submitted=kwargs.get("submitted") or {})
        return ctx

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        op = request.POST.get("op", "save")
        actor = actor_from(request)
        try:
            if op == "delete":
                price = self._price(request.POST.get("id"))
                services.delete_price(actor, price)
                messages.success(request, f"Price of {price.model} deleted.")
            else:
                instance = self._price(request.POST["id"]) if request.POST.get("id") else None
                ser = ModelPriceSerializer(instance, data=request.POST)
                if not ser.is_valid():
                    return self.render_to_response(self.get_context_data(
                        form_error=_first_error(ser.errors), submitted=request.POST), status=400)
                if instance is None:
                    price = services.create_price(actor, dict(ser.validated_data))
                else:
                    price = services.update_price(actor, instance, dict(ser.validated_data))
                messages.success(request, f"Price of {price.model} saved.")
        except ServiceError as e:
            return self.render_to_response(self.get_context_data(form_error=e.message, submitted=request.POST),
                                           status=e.status_code)
        return HttpResponseRedirect(reverse("platform-model-prices"))

    @staticmethod
    def _price(pk: Any) -> ModelPrice:
        price = ModelPrice.objects.filter(pk=pk).first() if str(pk or "").isdigit() else None
        if price is None:
            raise Http404("No such model price.")
        return price
