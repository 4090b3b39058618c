"""The service behind the org-scoped viewsets' create/update/delete: one transaction per change.

`OrgScopedGenericViewSet.perform_*` hand the validated data to the viewset's `writes` (a `ModelWrites`),
never to `serializer.save()`. The row, its audit entry and whatever the app adds in its subclass (secrets,
a sync request, an `on_commit` task) commit together or not at all.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from django.db import models, transaction

from portal.tenancy import audit
from portal.tenancy.audit import Actor
from portal.tenancy.models import Organization

M = TypeVar("M", bound=models.Model)


class ModelWrites(Generic[M]):
    """Create, update and delete one org-owned model. Apps subclass it and override `assign` (how the data
    lands on the row) and `changed` (what else a change must do in its transaction)."""

    def __init__(self, model: type[M]) -> None:
        self.model = model

    def create(self, actor: Actor, org: Organization, data: dict[str, Any]) -> M:
        with transaction.atomic():
            obj = self.model(org=org)
            self.save(obj, dict(data))
            audit.record(actor, "create", obj, audit.snapshot(obj))
            self.changed(actor, org, obj)
        return obj

    def update(self, actor: Actor, obj: M, data: dict[str, Any]) -> M:
        with transaction.atomic():
            before = audit.snapshot(obj)
            self.save(obj, dict(data))
            audit.record(actor, "update", obj, audit.diff(before, audit.snapshot(obj)))
            self.changed(actor, _org_of(obj), obj)
        return obj

    def delete(self, actor: Actor, obj: M) -> None:
        with transaction.atomic():
            audit.record(actor, "delete", obj, {})
            org = _org_of(obj)
            obj.delete()
            self.changed(actor, org, None)

    def save(self, obj: M, data: dict[str, Any]) -> None:
        """Set the fields, save, then set many-to-many relations (they need the row's id)."""
        related = {f.name for f in obj._meta.many_to_many}
        many = {k: data.pop(k) for k in list(data) if k in related}
        self.assign(obj, data)
        obj.save()
        for name, values in many.items():
            getattr(obj, name).set(values)

    def assign(self, obj: M, data: dict[str, Any]) -> None:
        for key, value in data.items():
            setattr(obj, key, value)

    def changed(self, actor: Actor, org: Organization, obj: M | None) -> None:
        """Called inside the transaction after every write (`obj` None after a delete)."""


def _org_of(obj: models.Model) -> Organization:
    org: Organization = obj.org  # type: ignore[attr-defined]
    return org
