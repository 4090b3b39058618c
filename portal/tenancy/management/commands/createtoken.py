from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.errors import ServiceError
from portal.tenancy import services
from portal.tenancy.management.commands._common import org_or_fail
from portal.tenancy.models import TokenScope


class Command(BaseCommand):
    help = "Create an API token for a member of an org; the secret is printed once, alone on the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("email")
        parser.add_argument("--scope", choices=TokenScope.values, default=TokenScope.READ)
        parser.add_argument("--name", default="cli")

    def handle(self, *args: Any, **opts: Any) -> None:
        org = org_or_fail(opts["slug"])
        user = get_user_model().objects.filter(email__iexact=opts["email"]).first()
        if user is None:
            raise CommandError(f"No user {opts['email']!r}; add them with `manage.py addmember` first.")
        try:
            token, secret = services.create_api_token(org, user, opts["name"], opts["scope"])
        except ServiceError as e:
            raise CommandError(e.message) from e
        self.stdout.write(f"{token.scope} token {token.name!r} for {user.email} in {org.slug}; shown once:")
        self.stdout.write(secret)
