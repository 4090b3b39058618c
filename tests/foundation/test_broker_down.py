"""The task queue down (Redis as broker unreachable): a write that committed answers as usual instead of an
error page, within a second (results are not stored, so sending needs the broker only), and the work is
picked up by the periodic repair, or, for an export nobody would repair, the export says it did not start."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest

from alerts_app.models import Rule
from logs_app.exports.models import Export, ExportStatus
from tests import procs

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker_down() -> Iterator[None]:
    """The portal's Celery app sending to a broker address where nothing listens. Celery caches the
    connection pool and kombu's producer pool (made from the first broker URL the process used, maybe by an
    earlier test): both are replaced for the test and the originals put back after it."""
    from portal.celery import app

    _ = app.amqp.producer_pool  # as after an earlier send in this process: the cache the test must get past
    saved = app.conf.broker_url, app.conf.task_always_eager, app._pool, app.amqp._producer_pool
    app.conf.broker_url = f"redis://127.0.0.1:{procs.free_port()}/0"
    app.conf.task_always_eager = False
    app._pool = None
    app.amqp._producer_pool = None
    try:
        yield
    finally:
        app.conf.broker_url, app.conf.task_always_eager = saved[0], saved[1]
        app._pool, app.amqp._producer_pool = saved[2], saved[3]


def test_a_rule_saved_while_the_queue_is_down_is_201_and_left_to_the_reconcile(
        broker_down: None, api_alice: Any, org_a: Any, django_capture_on_commit_callbacks: Any,
        caplog: pytest.LogCaptureFixture) -> None:
    # On the module's logger itself: another test may have configured logging without propagation.
    logger = logging.getLogger("portal.core.task_policy")
    logger.addHandler(caplog.handler)
    t = time.monotonic()
    try:
        with django_capture_on_commit_callbacks(execute=True):
            r = api_alice.post("/api/v1/alerts/rules/", {"name": "queued", "query": "up", "comparator": "==",
                                                         "threshold": 0}, format="json")
    finally:
        logger.removeHandler(caplog.handler)
    assert r.status_code == 201, r.content
    assert time.monotonic() - t < 10  # kombu's few quick reconnects, not the result store's long ones
    rule = Rule.objects.for_org(org_a).get(pk=r.json()["id"])
    assert rule.sync_state == "pending"  # the alerts reconcile (every minute) syncs it
    assert "task queue unavailable" in caplog.text and "sync_org_task" in caplog.text


def test_an_export_created_while_the_queue_is_down_says_it_did_not_start(
        broker_down: None, api_alice: Any, org_a: Any, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        r = api_alice.post("/api/v1/exports/", {"query": "", "start": "2026-01-01T00:00:00Z",
                                                      "end": "2026-01-01T01:00:00Z"}, format="json")
    assert r.status_code in (201, 202), r.content
    export = Export.objects.for_org(org_a).get(pk=r.json()["id"])
    assert export.status == ExportStatus.FAILED and "task queue is unavailable" in export.error
    got = api_alice.get(f"/api/v1/exports/{export.pk}/").json()
    assert got["status"] == "failed" and "create it again" in got["error"]
