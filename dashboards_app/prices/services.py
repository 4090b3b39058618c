"""Writes of the model price table: staff only (checked by the callers), audited as platform-level changes."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from dashboards_app.models import ModelPrice
from portal.errors import ServiceError
from portal.tenancy import audit
from portal.tenancy.audit import Actor

FIELDS = ("model", "usd_per_1k_input", "usd_per_1k_output")


def _exists(model: str) -> ServiceError:
    return ServiceError(400, "exists", f"A price for model {model!r} already exists; edit it instead.",
                        {"field": "model"})


def create_price(actor: Actor, data: dict[str, Any]) -> ModelPrice:
    try:
        with transaction.atomic():
            price = ModelPrice.objects.create(**{k: data[k] for k in FIELDS})
            # org=None: the table is the platform's, not one org's (as datasources are).
            audit.record(actor, "create", price, audit.snapshot(price), org=None)
    except IntegrityError:  # two staff adding the same model at once: the unique constraint decides
        raise _exists(str(data["model"])) from None
    return price


def update_price(actor: Actor, price: ModelPrice, data: dict[str, Any]) -> ModelPrice:
    try:
        with transaction.atomic():
            price = ModelPrice.objects.select_for_update().get(pk=price.pk)
            before = audit.snapshot(price)
            for key in FIELDS:
                if key in data:
                    setattr(price, key, data[key])
            price.save()
            audit.record(actor, "update", price, audit.diff(before, audit.snapshot(price)), org=None)
    except IntegrityError:
        raise _exists(str(data.get("model"))) from None
    return price


def delete_price(actor: Actor, price: ModelPrice) -> None:
    with transaction.atomic():
        audit.record(actor, "delete", price, audit.snapshot(price), org=None)
        price.delete()
