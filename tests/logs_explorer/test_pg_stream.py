"""The PostgreSQL fast path (COPY … TO STDOUT) writes what the generic path (store.iter_records through
ExportWriter) writes: same rows, order, columns, values and formula escaping; and it can be cancelled."""

from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection

from logs_app.exports import pg_stream, services
from logs_app.exports.models import Export, ExportStatus
from logs_app.store import get_store
from logs_app.store.records import LogRecord
from tests.logs.conftest import TRICKY, tricky_records

pytestmark = [pytest.mark.django_db,
              pytest.mark.skipif(connection.vendor != "postgresql", reason="the fast path is PostgreSQL's own")]


def _seed(org: Any, now: Any) -> None:
    get_store().write_logs(tricky_records(org.pk, now))


def _export(org: Any, alice: Any, now: Any, fmt: str, fast: bool, monkeypatch: Any) -> bytes:
    monkeypatch.setattr(services, "FAST_PATH", fast)
    export = services.create_export(org, alice, services.ExportRequest(
        query="", start=now - timedelta(hours=1), end=now + timedelta(minutes=1), format=fmt, gzip=True))
    assert services.run_export(export.pk) == ExportStatus.DONE
    export.refresh_from_db()
    return gzip.decompress(export.file_path().read_bytes())  # type: ignore[union-attr]


def _csv_rows(data: bytes) -> list[dict[str, Any]]:
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    for r in rows:
        r["attributes"] = json.loads(r["attributes"]) if r["attributes"] else {}
    return rows


def test_fast_path_is_used_and_matches_generic_csv(org_a: Any, alice: Any, now: Any, monkeypatch: Any) -> None:
    assert pg_stream.supports(get_store())
    _seed(org_a, now)
    fast, slow = (_export(org_a, alice, now, "csv", f, monkeypatch) for f in (True, False))
    assert fast.splitlines()[0] == slow.splitlines()[0]  # the same header
    assert _csv_rows(fast) == _csv_rows(slow)
    rows = _csv_rows(fast)
    assert [r["message"] for r in rows[:5]] == ["'=SUM(A1:A9)", "'+33 6 12", "'-1", "'@cmd", "'\tTAB"]
    assert rows[3]["service"] == "'=svc" and rows[4]["correlation_id"] == "'-corr"
    assert rows[7]["message"] == "multi\nline" and rows[6]["message"] == 'say "hi", then go'
    assert rows[0]["timestamp"].endswith(".876544+00:00") and rows[1]["timestamp"].endswith(".000000+00:00")


def test_fast_path_matches_generic_ndjson(org_a: Any, alice: Any, now: Any, monkeypatch: Any) -> None:
    _seed(org_a, now)
    fast, slow = (_export(org_a, alice, now, "ndjson", f, monkeypatch) for f in (True, False))
    parse = lambda b: [json.loads(line) for line in b.decode().splitlines()]  # noqa: E731
    assert parse(fast) == parse(slow) and len(parse(fast)) == len(TRICKY)
    assert parse(fast)[7]["message"] == "multi\nline" and parse(fast)[11]["message"] == "back\\slash"


def test_fast_path_honours_query_and_org(org_a: Any, org_b: Any, alice: Any, now: Any, monkeypatch: Any) -> None:
    _seed(org_a, now)
    _seed(org_b, now)
    monkeypatch.setattr(services, "FAST_PATH", True)
    export = services.create_export(org_a, alice, services.ExportRequest(
        query="level=error", start=now - timedelta(hours=1), end=now + timedelta(minutes=1), gzip=False))
    services.run_export(export.pk)
    export.refresh_from_db()
    rows = list(csv.DictReader(io.StringIO(export.file_path().read_text())))  # type: ignore[union-attr]
    assert len(rows) == export.rows_written == export.rows_total == len(TRICKY[1::3])
    assert {r["level"] for r in rows} == {"error"}


@pytest.mark.django_db(transaction=True)
def test_fast_path_progress_and_cancel_from_another_connection(org_a: Any, now: Any, monkeypatch: Any,
                                                               settings: Any) -> None:
    """As in production: the COPY streams on the task's connection, the API (another connection) reads
    progress and sets the cancel flag; the task stops the COPY and leaves its connection usable."""
    from django.db import DEFAULT_DB_ALIAS, connections
    from django.utils import timezone

    get_store().write_logs([LogRecord(org_id=org_a.pk, time=now - timedelta(seconds=i / 10), body=f"r{i}")
                            for i in range(1, 3000)])
    export = Export.objects.create(org=org_a, query="", start=now - timedelta(hours=1), end=now + timedelta(minutes=1),
                                   expires_at=timezone.now() + timedelta(hours=1))
    other = connections.create_connection(DEFAULT_DB_ALIAS)
    seen: list[int] = []
    real = pg_stream.iter_chunks

    def chunks_then_cancel(*args: Any, **kwargs: Any) -> Any:
        for i, chunk in enumerate(real(*args, batch=100)):
            if i == 5:
                with other.cursor() as c:
                    c.execute("SELECT rows_written FROM logs_app_export WHERE id = %s", [export.pk])
                    seen.append(c.fetchone()[0])
                    c.execute("UPDATE logs_app_export SET cancel_requested = %s WHERE id = %s", [True, export.pk])
            yield chunk

    monkeypatch.setattr(pg_stream, "iter_chunks", chunks_then_cancel)
    monkeypatch.setattr(services, "PROGRESS_ROWS", 100)
    try:
        assert services.run_export(export.pk) == ExportStatus.CANCELLED
    finally:
        other.close()
    assert seen == [500]
    assert Export.objects.for_org(org_a).get(pk=export.pk).status == ExportStatus.CANCELLED
    assert list(settings.EXPORTS_DIR.glob("*/*")) == []
    with connection.cursor() as c:  # the connection is usable after the cancelled COPY
        c.execute("SELECT count(*) FROM logs_record WHERE org_id = %s", [org_a.pk])
        assert c.fetchone() == (2999,)
    get_store().delete_older_than(org_a, now + timedelta(days=1))  # the store's tables are not flushed
