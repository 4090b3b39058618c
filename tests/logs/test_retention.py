"""Retention per org, capped by the staff maximum, tested by moving the clock: PostgreSQL drops whole
daily partitions, SQLite (and rows younger than the shared partitions) delete in batches."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection

from logs_app.retention import apply_retention, effective_days
from logs_app.tasks import apply_log_retention
from tests.logs.conftest import NOW, make_log, make_span

pytestmark = pytest.mark.django_db
EVER = (NOW - timedelta(days=400), NOW + timedelta(days=400))


def ages(store: Any, org: Any) -> list[int]:
    records = store.search(org, "", *EVER, limit=1000).records
    return sorted(round((NOW - r.time).total_seconds() / 86400) for r in records)


@pytest.fixture
def history(store: Any, org_a: Any, org_b: Any) -> Any:
    org_a.log_retention_days = 7
    org_a.save()
    org_b.log_retention_days = 30
    org_b.save()
    for org in (org_a, org_b):
        store.write_logs([make_log(org, time=NOW - timedelta(days=d)) for d in (0, 5, 10, 20, 40)])
        store.write_spans([make_span(org, f"{d:02d}" * 16, "01" * 8, start=NOW - timedelta(days=d))
                           for d in (1, 10, 40)])
    return store


def test_moving_the_clock_expires_each_orgs_records(history: Any, org_a: Any, org_b: Any, settings: Any) -> None:
    settings.LOGS_MAX_RETENTION_DAYS = 90
    result = apply_retention(now=NOW)
    assert ages(history, org_a) == [0, 5]
    assert ages(history, org_b) == [0, 5, 10, 20]
    assert len(history.search_traces(org_a, "", *EVER)) == 1
    assert len(history.search_traces(org_b, "", *EVER)) == 2
    if connection.vendor == "postgresql":
        # The 40-day-old day is past every org's retention: its partitions were dropped, not deleted from.
        day = (NOW - timedelta(days=40)).strftime("%Y%m%d")
        assert f"logs_record_p{day}" in result.dropped_partitions
        assert f"logs_span_p{day}" in result.dropped_partitions
        assert f"logs_record_p{day}" not in history.partitions()
    # Ten days later: org B's 20-day-old record is now 30 days old and goes; org A's (7 days) all went.
    apply_retention(now=NOW + timedelta(days=10, hours=1))
    assert ages(history, org_a) == []
    assert ages(history, org_b) == [0, 5, 10]
    # Idempotent.
    assert sum(apply_retention(now=NOW + timedelta(days=10, hours=1)).deleted_rows.values()) == 0


def test_staff_maximum_caps_an_orgs_retention(history: Any, org_a: Any, org_b: Any, settings: Any) -> None:
    settings.LOGS_MAX_RETENTION_DAYS = 15
    org_b.log_retention_days = 365
    org_b.save()
    assert effective_days(org_b) == 15
    apply_retention(now=NOW)
    assert ages(history, org_b) == [0, 5, 10]


def test_the_beat_task_runs_retention(history: Any, org_a: Any) -> None:
    from portal.celery import app

    assert app.conf.beat_schedule["logs-retention"]["task"] == "logs_app.tasks.apply_log_retention"
    out = apply_log_retention()
    assert out["deleted_rows"]["acme"] >= 2
    assert ages(history, org_a) == [0, 5]


def test_upcoming_partitions_are_created_ahead_on_postgres(store: Any) -> None:
    apply_retention(now=NOW)
    if connection.vendor != "postgresql":
        assert store.drop_partitions_before(NOW) == []  # SQLite has no partitions: retention deletes rows
        return
    tomorrow = (NOW + timedelta(days=1)).strftime("%Y%m%d")
    assert f"logs_record_p{tomorrow}" in store.partitions()
    assert f"logs_span_p{tomorrow}" in store.partitions("logs_span")


def test_deleting_an_org_deletes_its_logs_and_spans(store: Any, org_a: Any, org_b: Any) -> None:
    store.write_logs([make_log(org_a), make_log(org_b)])
    store.write_spans([make_span(org_a, "e5" * 16, "01" * 8)])
    org_a_id = org_a.pk
    org_a.delete()
    with connection.cursor() as c:
        c.execute("SELECT count(*) FROM logs_record WHERE org_id = %s", [org_a_id])
        assert c.fetchone()[0] == 0
        c.execute("SELECT count(*) FROM logs_span WHERE org_id = %s", [org_a_id])
        assert c.fetchone()[0] == 0
    assert store.count(org_b, "", *EVER) == 1
