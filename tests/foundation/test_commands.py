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


def test_demo_telemetry_reuses_its_ingest_token_across_starts(org_a, org_b, settings, tmp_path, rf):
    from portal.core.management.commands.demo_telemetry import demo_tokens

    settings.VAR_DIR = tmp_path
    first = demo_tokens()
    assert set(first) == {org_a.label_value, org_b.label_value}
    assert demo_tokens() == first  # a second `make run` sends with the same tokens
    assert IngestToken.objects.for_org(org_a).filter(name="demo-telemetry").count() == 1
    assert (tmp_path / "demo-telemetry-tokens.json").stat().st_mode & 0o777 == 0o600
    # The token each org's telemetry is sent with authenticates as that org.
    request = rf.post("/otlp/v1/logs", HTTP_AUTHORIZATION=f"Bearer {first[org_b.label_value]}")
    assert authenticate_ingest(request) == org_b
    # A revoked token is replaced, not reused.
    IngestToken.objects.for_org(org_a).update(revoked_at="2026-01-01T00:00:00Z")
    again = demo_tokens()
    assert again[org_a.label_value] != first[org_a.label_value] and again[org_b.label_value] == first[org_b.label_value]
