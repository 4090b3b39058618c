"""Fault isolation on the shared Prometheus and Alertmanager: every policy and channel value Alertmanager
would refuse is a 400 at the API; a bad part that still reaches the sync (written past the API) puts only
its own org in error, and the other orgs keep syncing and notifying."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from alerts_app import render, sync
from alerts_app.models import AlertEvent, NotificationPolicy, OrgSync, Rule, SyncState
from portal.tenancy.models import Organization
from tests.alerts.receivers import HttpRecorder, wait_for
from tests.security import alert_stack
from tests.security.alert_stack import (
    always_firing,
    bump,
    fast_policy,
    loaded_am_config,
    loaded_receivers,
    loaded_rule_ids,
    pagerduty_channel,
    pages_for,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def stack(tmp_path: Path, settings: Any, live_server: Any) -> Iterator[dict[str, Any]]:
    yield from alert_stack.run(tmp_path, settings, live_server)


@pytest.mark.parametrize(("body", "field", "says"), [
    ({"group_interval": "0m"}, "group_interval", "greater than zero"),
    ({"repeat_interval": "0"}, "repeat_interval", "greater than zero"),
    ({"group_wait": "0s"}, "group_wait", "greater than zero"),
    ({"group_wait": "5 minutes"}, "group_wait", "not a duration"),
    ({"repeat_interval": "1h30"}, "repeat_interval", "not a duration"),
    ({"repeat_interval": "30m1h"}, "repeat_interval", "not a duration"),
    ({"group_wait": "\u0661m"}, "group_wait", "not a duration"),  # an Arabic-Indic digit: Go takes [0-9] only
    ({"repeat_interval": "999999999y"}, "repeat_interval", "out of range"),
    ({"group_wait": ""}, "group_wait", "blank"),
    ({"group_by": ["job", "job"]}, "group_by", "twice"),
    ({"group_by": ["...", "job"]}, "group_by", "cannot be combined"),
    ({"group_by": ["bad-name"]}, "group_by", "not a valid label name"),
    ({"group_by": ["job\n"]}, "group_by", "not a valid label name"),
    ({"mute_time_intervals": [{"times": [{"start_time": "25:00", "end_time": "26:00"}]}]}, "mute_time_intervals",
     ""),
    ({"mute_time_intervals": [{"weekdays": ["caturday"]}]}, "mute_time_intervals", ""),
])
def test_policy_values_alertmanager_refuses_are_a_400_naming_the_field(
        api_alice: APIClient, org_a: Organization, body: dict[str, Any], field: str, says: str) -> None:
    r = api_alice.put("/api/v1/alerts/policy/", body, format="json")
    assert r.status_code == 400, r.content
    err = r.json()["error"]
    assert err["details"].get("field", next(iter(err["details"]))) == field and says in err["message"], err
    assert not NotificationPolicy.objects.for_org(org_a).exists()


@pytest.mark.parametrize(("body", "field"), [
    ({"kind": "slack", "config": {"channel": {"x": 1}}, "secrets": {"webhook_url": "https://hooks.slack.example/T"}},
     "config.channel"),
    ({"kind": "slack", "config": {"channel": "#ops {{ .CommonLabels }}"},
      "secrets": {"webhook_url": "https://hooks.slack.example/T"}}, "config.channel"),
    ({"kind": "email", "config": {"addresses": ["{{.Status}}@acme.example"]}}, "config.addresses"),
    ({"kind": "email", "config": {"addresses": ["ops@acme.example"], "smarthost": "evil:25"}}, "config.smarthost"),
    ({"kind": "pagerduty", "secrets": {"routing_key": "has spaces in it"}}, "secrets.routing_key"),
    ({"kind": "pagerduty", "config": {"url": "http://elsewhere.example/"}, "secrets": {"routing_key": "rk"}},
     "config.url"),
])
def test_channel_values_alertmanager_would_refuse_are_a_400_naming_the_field(
        api_alice: APIClient, body: dict[str, Any], field: str) -> None:
    r = api_alice.post("/api/v1/alerts/channels/", {"name": "c", **body}, format="json")
    assert r.status_code == 400, r.content
    assert r.json()["error"]["details"]["field"] == field, r.json()


def test_one_orgs_broken_policy_leaves_the_other_orgs_syncing_and_notifying(
        stack: dict[str, Any], api_alice: APIClient, org_a: Organization, org_b: Organization,
        org_c: Organization) -> None:
    http: HttpRecorder = stack["http"]
    am = stack["am"]
    orgs = {"acme": org_a, "globex": org_b, "initech": org_c}
    channels = {slug: pagerduty_channel(org, "pd", f"rk-{slug}") for slug, org in orgs.items()}
    for org in orgs.values():
        fast_policy(org)
        always_firing(org)
    assert sync.reconcile().errors == {}
    assert {f"org{org.pk}-ch{channels[slug].pk}" for slug, org in orgs.items()} <= loaded_receivers(am)

    # The API refuses the value that once broke Alertmanager for everyone...
    r = api_alice.put("/api/v1/alerts/policy/", {"group_interval": "0m"}, format="json")
    assert r.status_code == 400 and r.json()["error"]["details"]["field"] == "group_interval"
    # ...so it is written past it, straight into globex's row.
    NotificationPolicy.objects.all_orgs().filter(org=org_b).update(group_interval="0m")
    bump(org_b)
    report = sync.sync_org(org_b.pk)
    assert set(report.errors) == {org_b.pk}
    assert "group_interval cannot be zero" in report.errors[org_b.pk]
    assert "last accepted version stays in use" in report.errors[org_b.pk]

    # The two other orgs change their channels: the changes reach Alertmanager although globex's part
    # of the same config is still refused by amtool.
    added = {slug: pagerduty_channel(orgs[slug], "pd2", f"rk2-{slug}") for slug in ("acme", "initech")}
    for slug in ("acme", "initech"):
        bump(orgs[slug])
        report = sync.sync_org(orgs[slug].pk)
        assert report.errors.get(orgs[slug].pk) is None, report.errors
    loaded = loaded_receivers(am)
    assert {f"org{orgs[s].pk}-ch{added[s].pk}" for s in added} <= loaded
    # globex keeps what Alertmanager last accepted (its route still has the old interval), never "0m".
    route_b = next(r for r in loaded_am_config(am)["route"]["routes"] if r["receiver"] == f"org{org_b.pk}-default")
    assert route_b["group_interval"] == "1s"

    # Sync state: globex shows its own error; the others show none, and never globex's.
    state_b = sync.org_sync_status(org_b)
    assert "group_interval cannot be zero" in state_b["last_error"] and state_b["rules"]["error"] == 1
    for slug in ("acme", "initech"):
        state = sync.org_sync_status(orgs[slug])
        assert state["last_error"] == "" and state["rules"] == {"pending": 0, "synced": 1, "error": 0}, state
        assert not Rule.objects.for_org(orgs[slug]).filter(sync_error__contains="group_interval").exists()

    # And they notify: the rule fires, Alertmanager pages every channel of each org (the new ones too)
    # and posts to the portal's history hook with each org's own credential.
    for key in ("rk-acme", "rk2-acme", "rk-initech", "rk2-initech"):
        wait_for(functools.partial(pages_for, http, key), what=f"a page with {key}")
    for slug in ("acme", "initech"):
        wait_for(AlertEvent.objects.for_org(orgs[slug]).exists, what=f"{slug}'s alert history")

    # Fixed through the API, globex's part is accepted again and its error goes away.
    client_b = _client_for(org_b)
    assert client_b.put("/api/v1/alerts/policy/", {"group_interval": "2s"}, format="json").status_code == 200
    bump(org_b)
    assert sync.sync_org(org_b.pk).errors == {}
    assert sync.org_sync_status(org_b)["last_error"] == ""
    route_b = next(r for r in loaded_am_config(am)["route"]["routes"] if r["receiver"] == f"org{org_b.pk}-default")
    assert route_b["group_interval"] == "2s"


def test_an_org_broken_from_its_first_sync_is_left_out_and_the_others_load(
        stack: dict[str, Any], org_a: Organization, org_b: Organization, org_c: Organization) -> None:
    am = stack["am"]
    for org in (org_a, org_b, org_c):
        pagerduty_channel(org, "pd", f"rk-{org.slug}")
        fast_policy(org)
    # Not a duration this time: a mute window Alertmanager cannot parse, written past the API.
    NotificationPolicy.objects.all_orgs().filter(org=org_b).update(mute_time_intervals=[{"weekdays": ["caturday"]}])
    report = sync.reconcile()
    assert set(report.errors) == {org_b.pk}
    assert "left out of Alertmanager" in report.errors[org_b.pk]
    loaded = loaded_receivers(am)
    assert {f"org{org_a.pk}-history", f"org{org_c.pk}-history"} <= loaded
    assert not any(name.startswith(f"org{org_b.pk}-") for name in loaded)
    assert not any(t["name"].startswith(f"org{org_b.pk}-") for t in loaded_am_config(am).get("time_intervals", []))
    last_error = OrgSync.objects.all_orgs().get(org=org_b).last_error
    assert last_error.startswith(sync.AM_ORG_ERROR) and "caturday" in last_error
    assert OrgSync.objects.all_orgs().filter(org__in=[org_a, org_c]).exclude(last_error="").count() == 0


def test_one_orgs_invalid_rule_file_never_blocks_anothers_reload(
        stack: dict[str, Any], org_a: Organization, org_b: Organization, org_c: Organization) -> None:
    prom = stack["prom"]
    rules = {org.slug: always_firing(org) for org in (org_a, org_b, org_c)}
    # A rule promtool refuses (not a duration), written past the API into globex.
    bad = always_firing(org_b, "BadFor", for_duration="5 minutes")
    report = sync.reconcile()
    assert set(report.errors) == {org_b.pk} and "promtool" in report.errors[org_b.pk]
    assert loaded_rule_ids(prom) == {str(rules["acme"].pk), str(rules["initech"].pk)}
    for org in (org_a, org_c):
        assert sync.org_sync_status(org)["rules"] == {"pending": 0, "synced": 1, "error": 0}
    bad.refresh_from_db()
    assert bad.sync_state == SyncState.ERROR and "promtool" in bad.sync_error

    # A file already on disk that Prometheus refuses (edited by hand, or written by an older version):
    # Prometheus refuses the whole reload for it; it is set aside and acme's new rule still loads.
    bad.delete()
    assert sync.reconcile().errors == {}
    path_b = render.rules_path(org_b.pk)
    path_b.write_text('groups: [{name: x, rules: [{alert: X, expr: "sum(("}]}]\n')
    new_a = always_firing(org_a, "AlsoFiring")
    bump(org_a)
    report = sync.sync_org(org_a.pk)
    assert report.errors.get(org_a.pk) is None, report.errors
    assert {str(new_a.pk), str(rules["acme"].pk), str(rules["initech"].pk)} <= loaded_rule_ids(prom)
    assert not path_b.exists() and path_b.with_name(f".{path_b.name}.rejected").exists()
    state_b = sync.org_sync_status(org_b)
    assert state_b["last_error"].startswith(sync.RULES_SET_ASIDE) and state_b["rules"]["error"] == 1
    assert sync.org_sync_status(org_a)["last_error"] == ""

    # The reconcile writes globex's file again from the database and clears its error.
    assert sync.reconcile().errors == {}
    assert str(rules["globex"].pk) in loaded_rule_ids(prom)
    assert sync.org_sync_status(org_b)["last_error"] == ""


def _client_for(org: Organization) -> APIClient:
    from portal.tenancy import services
    from tests.conftest import token_client

    user = services.add_member(org, f"admin@{org.slug}.example", "admin", password="Correct-horse-42").user
    return token_client(org, user)
