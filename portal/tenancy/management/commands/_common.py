from __future__ import annotations

from django.core.management.base import CommandError

from portal.tenancy.models import Organization


def org_or_fail(slug: str) -> Organization:
    org = Organization.objects.filter(slug=slug).first()
    if org is None:
        raise CommandError(f"No organization with slug {slug!r} (create it with `manage.py createorg {slug}`).")
    return org
