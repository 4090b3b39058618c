"""Demo organizations and people for `make run`; idempotent. Prints the logins."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from portal.tenancy import services
from portal.tenancy.models import Organization

DEMO_ORGS = [("acme", "Acme Corp"), ("globex", "Globex"), ("initech", "Initech")]


class Command(BaseCommand):
    help = "Create the demo orgs (acme, globex, initech), an operator and one admin per org; print the logins."

    def handle(self, *args: Any, **opts: Any) -> None:
        cred_file = settings.VAR_DIR / "demo-password"
        if not cred_file.exists():
            cred_file.write_text(secrets.token_urlsafe(9))
            cred_file.chmod(0o600)
        password = cred_file.read_text().strip()
        for slug, name in DEMO_ORGS:
            org = Organization.objects.filter(slug=slug).first() or services.create_org(slug, name, slug)
            services.add_member(org, f"admin@{slug}.example", "admin", password=password)
            services.add_member(org, f"viewer@{slug}.example", "viewer", password=password)
        operator = services.get_or_create_user("admin@example.com", password)
        operator.is_staff = operator.is_superuser = True
        operator.save()
        self.stdout.write("Log in as the platform operator (sees every org):")
        self.stdout.write(f"  email: admin@example.com   password: {password}")
        self.stdout.write("Org admins: admin@acme.example, admin@globex.example, admin@initech.example "
                          "(same password); viewers: viewer@<org>.example")
