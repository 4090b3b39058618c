"""The one tenancy mechanism for data: every org-owned model derives from `OrgOwned`.

Reads go through `Model.objects.for_org(org)`. Reaching across orgs needs `Model.objects.all_orgs()`,
which is greppable and reserved for staff paths, Celery fan-out and reconciliation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from django.db import models

if TYPE_CHECKING:
    from portal.tenancy.models import Organization

_M = TypeVar("_M", bound=models.Model)


class OrgQuerySet(models.QuerySet[_M]):
    def for_org(self, org: Organization) -> OrgQuerySet[_M]:
        return self.filter(org=org)

    def all_orgs(self) -> OrgQuerySet[_M]:
        return self.all()


class OrgManager(models.Manager[_M]):
    """Fail-closed: the default queryset is empty until narrowed with for_org() or widened with all_orgs()."""

    def get_queryset(self) -> OrgQuerySet[_M]:
        return OrgQuerySet(self.model, using=self._db).none()

    def for_org(self, org: Organization) -> OrgQuerySet[_M]:
        return OrgQuerySet(self.model, using=self._db).filter(org=org)

    def all_orgs(self) -> OrgQuerySet[_M]:
        return OrgQuerySet(self.model, using=self._db)

    def create(self, **kwargs: Any) -> _M:
        if kwargs.get("org") is None and kwargs.get("org_id") is None:
            raise ValueError(f"{self.model.__name__} is org-owned: create() needs org=")
        return super().create(**kwargs)


class OrgOwned(models.Model):
    org = models.ForeignKey("tenancy.Organization", on_delete=models.CASCADE, related_name="+")

    objects: OrgManager[Any] = OrgManager()

    class Meta:
        abstract = True
