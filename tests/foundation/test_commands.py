"""The operator CLI: createorg, addmember, createtoken, createingesttoken."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from portal.tenancy.auth import authenticate_api_token, authenticate_ingest
from portal.tenancy.models import ApiToken, IngestToken, Membership, Organization


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_scripted_setup_end_to_end(rf):
    run("createorg", "acme", "--name", "Acme Corp", "--label", "acme-prod")
    org = Organization.objects.get(slug="acme")
    assert (org.name, org.label_value, org.label_name) == ("Acme Corp", "acme-prod", "org_id")
    run("createorg", "acme")  # idempotent
    assert Organization.objects.count() == 1

    run("addmember", "acme", "Alice@Acme.example", "--role", "admin", "--password", "Pw-123456789")
    m = Membership.objects.for_org(org).get()
    assert (m.user.email, m.role) == ("alice@acme.example", "admin")
    assert m.user.check_password("Pw-123456789")

    out = run("createtoken", "acme", "alice@acme.example", "--scope", "write")
    secret = out.strip().splitlines()[-1]
    assert secret.startswith("pt_") and " " not in secret
    user, ctx = authenticate_api_token(secret)
    assert user == m.user and ctx.org == org and ctx.scope == "write"
    stored = ApiToken.objects.for_org(org).get()
    assert secret not in (stored.secret_hash, stored.lookup) and len(stored.secret_hash) == 64

    out = run("createingesttoken", "acme")
    ingest = out.strip().splitlines()[-1]
    req = rf.post("/otlp/v1/logs", HTTP_AUTHORIZATION=f"Bearer {ingest}")
    assert authenticate_ingest(req) == org
    assert IngestToken.objects.for_org(org).count() == 1


@pytest.mark.django_db
def test_command_errors_are_clear():
    with pytest.raises(CommandError, match="No organization with slug 'nope'"):
        run("addmember", "nope", "a@b.example", "--role", "viewer")
    run("createorg", "acme")
    with pytest.raises(CommandError, match="No user"):
        run("createtoken", "acme", "ghost@b.example")
    with pytest.raises(CommandError):
        run("addmember", "acme", "a@b.example", "--role", "owner")
    run("addmember", "acme", "a@b.example", "--role", "viewer")
    run("createorg", "other")
    with pytest.raises(CommandError, match="not a member"):
        run("createtoken", "other", "a@b.example")
