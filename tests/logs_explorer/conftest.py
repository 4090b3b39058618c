"""Fixtures for the logs/traces UI, performance and exports tests: real store data for two orgs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from logs_app.store import get_store
from logs_app.store.records import LogRecord, SpanEvent, SpanRecord
from portal.tenancy.models import Organization

TRACE_A = "a" * 31 + "1"
TRACE_B = "b" * 31 + "2"


@pytest.fixture(autouse=True)
def _exports_dir(settings: Any, tmp_path: Path) -> Path:
    settings.EXPORTS_DIR = tmp_path / "exports"
    return settings.EXPORTS_DIR


@pytest.fixture
def now() -> datetime:
    return timezone.now().replace(microsecond=0)


def make_logs(org: Organization, now: datetime, n: int = 30, service: str = "api-router",
              prefix: str = "") -> list[LogRecord]:
    levels = ["info", "info", "warn", "error", "debug"]
    out = []
    for i in range(n):
        out.append(LogRecord(
            org_id=org.pk, time=now - timedelta(seconds=n - i), body=f"{prefix}request {i} handled",
            service=service if i % 3 else "user-service", level=levels[i % len(levels)],
            trace_id=TRACE_A if org.slug == "acme" and i % 5 == 3 else "",
            span_id="00000000000000a2" if i % 5 == 3 else "",
            correlation_id=f"corr-{i % 4}", attributes={"http.status": 500 if i % 5 == 3 else 200, "i": i},
        ))
    return out


def make_trace(org: Organization, trace_id: str, now: datetime, slow_ms: int = 2500) -> list[SpanRecord]:
    start = now - timedelta(seconds=20)
    return [
        SpanRecord(org_id=org.pk, trace_id=trace_id, span_id="00000000000000a1", name="POST /v1/chat",
                   start=start, end=start + timedelta(milliseconds=slow_ms), service="api-router", kind="server",
                   status="error", attributes={"http.route": "/v1/chat", "http.request.method": "POST"},
                   events=[SpanEvent(start + timedelta(milliseconds=5), "auth.checked", {"ok": True})]),
        SpanRecord(org_id=org.pk, trace_id=trace_id, span_id="00000000000000a2", parent_span_id="00000000000000a1",
                   name="GET /users/{id}", start=start + timedelta(milliseconds=10),
                   end=start + timedelta(milliseconds=110), service="user-service", kind="server", status="ok",
                   attributes={"http.route": "/users/{id}", "http.request.method": "GET"}),
        SpanRecord(org_id=org.pk, trace_id=trace_id, span_id="00000000000000a3", parent_span_id="00000000000000a1",
                   name="SELECT users", start=start + timedelta(milliseconds=120),
                   end=start + timedelta(milliseconds=170), service="api-router", kind="client", status="ok",
                   attributes={"db.system": "postgresql"}),
    ]


@pytest.fixture
def seeded(org_a: Organization, org_b: Organization, now: datetime) -> Iterator[dict[str, Any]]:
    store = get_store()
    store.write_logs(make_logs(org_a, now))
    store.write_logs(make_logs(org_b, now, prefix="globex-"))
    store.write_spans(make_trace(org_a, TRACE_A, now))
    store.write_spans(make_trace(org_b, TRACE_B, now, slow_ms=300))
    yield {"now": now, "store": store, "trace_a": TRACE_A, "trace_b": TRACE_B}
    # Transactional tests (browser) commit; the store's own tables are not flushed by Django.
    for org in (org_a, org_b):
        store.delete_older_than(org, timezone.now() + timedelta(days=1))
