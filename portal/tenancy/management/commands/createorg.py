from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.errors import ServiceError
from portal.tenancy import services
from portal.tenancy.models import Organization


class Command(BaseCommand):
    help = "Create an organization (idempotent: an existing slug is left as it is)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--name", default="")
        parser.add_argument("--label", default="", help="value of the org label in its telemetry (default: slug)")

    def handle(self, *args: Any, **opts: Any) -> None:
        existing = Organization.objects.filter(slug=opts["slug"]).first()
        if existing is not None:
            self.stdout.write(f"organization {existing.slug} exists (label {existing.label_value})")
            return
        try:
            org = services.create_org(opts["slug"], opts["name"], opts["label"])
        except (ServiceError, Exception) as e:
            raise CommandError(str(getattr(e, "message", e))) from e
        self.stdout.write(f"created organization {org.slug} (label {org.label_name}={org.label_value})")
