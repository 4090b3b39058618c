from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from portal.tenancy import services
from portal.tenancy.management.commands._common import org_or_fail


class Command(BaseCommand):
    help = "Create an org's write-only ingest token (OTLP, remote write); the secret is printed once, last."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--name", default="ingest")

    def handle(self, *args: Any, **opts: Any) -> None:
        org = org_or_fail(opts["slug"])
        token, secret = services.create_ingest_token(org, opts["name"])
        self.stdout.write(f"ingest token {token.name!r} for {org.slug}; shown once:")
        self.stdout.write(secret)
