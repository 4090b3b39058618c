"""The one tenancy mechanism itself: fail-closed managers, guarded base classes, nothing half-written."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from portal.errors import ServiceError
from portal.tenancy import services
from portal.tenancy.api_base import OrgScopedViewSet
from portal.tenancy.models import ApiToken, AuditEntry, Membership, Organization


def test_default_manager_is_fail_closed(org_a, alice, api_alice):
    assert ApiToken.objects.all().count() == 0
    assert ApiToken.objects.for_org(org_a).count() == 1
    assert ApiToken.objects.all_orgs().count() == 1
    assert Membership.objects.filter(user=alice).count() == 0


def test_create_needs_an_org(db):
    with pytest.raises(ValueError, match="org-owned"):
        ApiToken.objects.create(name="x", lookup="x", secret_hash="x")


def test_base_viewset_cannot_be_bypassed():
    with pytest.raises(TypeError, match="scope_queryset"):
        type("Leaky", (OrgScopedViewSet,), {"get_queryset": lambda self: None})
    with pytest.raises(TypeError):
        type("Leaky2", (OrgScopedViewSet,), {"perform_create": lambda self, s: None})


def test_failed_org_creation_writes_nothing(db):
    with pytest.raises((ValidationError, ServiceError)):
        services.create_org("bad", "Bad", "spaces are not allowed")
    assert not Organization.objects.filter(slug="bad").exists()
    assert AuditEntry.objects.all_orgs().count() == 0


def test_duplicate_org_refused_cleanly(org_a):
    with pytest.raises(ServiceError, match="already exists"):
        services.create_org("acme")
    with pytest.raises((ValidationError, IntegrityError)):
        services.create_org("acme2", "x", "acme")  # label value taken


def test_invalid_role_writes_nothing(org_a):
    from django.contrib.auth import get_user_model

    with pytest.raises(ServiceError):
        services.add_member(org_a, "new@acme.example", "owner")
    assert not get_user_model().objects.filter(email="new@acme.example").exists()


def test_org_from_body_is_ignored(api_alice, org_a, org_b):
    r = api_alice.post("/api/v1/tokens/", {"name": "t", "org": org_b.id, "org_id": org_b.id}, format="json")
    assert r.status_code == 201
    assert ApiToken.objects.for_org(org_a).filter(pk=r.json()["id"]).exists()
    assert not ApiToken.objects.for_org(org_b).exists()


def test_session_api_uses_header_org_only_when_member(web_alice, org_a, org_b):
    assert web_alice.get("/api/v1/org/", HTTP_X_PORTAL_ORG="acme").json()["slug"] == "acme"
    assert web_alice.get("/api/v1/org/", HTTP_X_PORTAL_ORG="globex").status_code == 404


def test_drf_mixins_listed_first_still_get_org_and_audit(api_alice, org_a):
    """Whatever the base order, creates get the request's org and every write is audited."""
    from rest_framework import mixins, serializers

    from portal.tenancy.api_base import OrgScopedGenericViewSet, OrgScopedViewSet

    class S(serializers.ModelSerializer):
        class Meta:
            model = ApiToken
            fields = ["id", "name"]

    for base in ((mixins.CreateModelMixin, mixins.UpdateModelMixin, mixins.DestroyModelMixin,
                  OrgScopedGenericViewSet), (OrgScopedViewSet,)):
        view = type("V", base, {"model": ApiToken, "serializer_class": S})
        for name in ("perform_create", "perform_update", "perform_destroy"):
            assert getattr(view, name) is getattr(OrgScopedGenericViewSet, name)
