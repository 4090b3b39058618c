from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.errors import ServiceError
from portal.tenancy import services
from portal.tenancy.management.commands._common import org_or_fail
from portal.tenancy.models import Role


class Command(BaseCommand):
    help = "Add a user (created if new) to an organization with a role."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("email")
        parser.add_argument("--role", choices=Role.values, required=True)
        parser.add_argument("--password", default=None)

    def handle(self, *args: Any, **opts: Any) -> None:
        org = org_or_fail(opts["slug"])
        try:
            m = services.add_member(org, opts["email"], opts["role"], password=opts["password"])
        except ServiceError as e:
            raise CommandError(e.message) from e
        self.stdout.write(f"{m.user.email} is {m.role} in {org.slug}")
