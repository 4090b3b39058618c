"""Exports on the ClickHouse store: the engine writes the file (INTO OUTFILE, its CSV / raw-line formats and
its gzip), in parts, at constant memory; what it writes equals what the generic path (store.iter_records
through ExportWriter) writes: same rows, order, columns, values and formula escaping; only the org's rows
and the query's; progress, cancel and the quota between parts."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import tracemalloc
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from logs_app import store as store_package
from logs_app.exports import ch_stream, services
from logs_app.exports.models import Export, ExportStatus
from logs_app.store.clickhouse import ClickHouseLogStore
from logs_app.store.records import LogRecord
from tests.logs.chstore import RecordingExecutor, fresh_clickhouse_store
from tests.logs.conftest import NOW, TRICKY, tricky_records

pytestmark = pytest.mark.django_db

T0, T1 = NOW - timedelta(hours=2), NOW + timedelta(minutes=1)


@pytest.fixture
def ch(monkeypatch: pytest.MonkeyPatch, settings: Any, tmp_path: Path) -> ClickHouseLogStore:
    settings.EXPORTS_DIR = tmp_path / "exports"
    store = fresh_clickhouse_store()
    monkeypatch.setattr(store_package, "_store_for", lambda *args: store)
    return store


def _seed(store: ClickHouseLogStore, org: Any) -> None:
    store.write_logs(tricky_records(org.pk, NOW))


def _export(org: Any, user: Any, fmt: str, fast: bool, monkeypatch: Any, query: str = "",
            use_gzip: bool = True, start: Any = T0) -> tuple[Export, bytes]:
    monkeypatch.setattr(services, "FAST_PATH", fast)
    export = services.create_export(org, user, services.ExportRequest(
        query=query, start=start, end=T1, format=fmt, gzip=use_gzip))
    assert services.run_export(export.pk) == ExportStatus.DONE
    export.refresh_from_db()
    data = export.file_path().read_bytes()  # type: ignore[union-attr]
    return export, gzip.decompress(data) if use_gzip else data


def _csv_rows(data: bytes) -> list[dict[str, Any]]:
    rows = list(csv.DictReader(io.StringIO(data.decode(), newline="")))
    for r in rows:
        r["attributes"] = json.loads(r["attributes"]) if r["attributes"] else {}
    return rows


def test_the_engine_writes_the_csv_the_generic_path_writes(ch: ClickHouseLogStore, org_a: Any, alice: Any,
                                                           monkeypatch: Any) -> None:
    assert ch_stream.supports(ch)
    _seed(ch, org_a)
    (_, fast), (_, slow) = (_export(org_a, alice, "csv", f, monkeypatch) for f in (True, False))
    assert fast.splitlines()[0] == slow.splitlines()[0]  # the same header, byte for byte
    assert _csv_rows(fast) == _csv_rows(slow) and len(_csv_rows(fast)) == len(TRICKY)
    rows = _csv_rows(fast)
    assert [r["message"] for r in rows[:5]] == ["'=SUM(A1:A9)", "'+33 6 12", "'-1", "'@cmd", "'\tTAB"]
    assert rows[3]["service"] == "'=svc" and rows[4]["correlation_id"] == "'-corr"
    assert rows[7]["message"] == "multi\nline" and rows[6]["message"] == 'say "hi", then go'
    assert rows[0]["timestamp"].endswith(".876544+00:00") and rows[1]["timestamp"].endswith(".000000+00:00")
    assert fast.count(b"\r\n") == slow.count(b"\r\n") == len(TRICKY) + 1  # CRLF ends each line (RFC 4180)


def test_the_engine_writes_the_ndjson_the_generic_path_writes(ch: ClickHouseLogStore, org_a: Any, alice: Any,
                                                              monkeypatch: Any) -> None:
    _seed(ch, org_a)
    (_, fast), (_, slow) = (_export(org_a, alice, "ndjson", f, monkeypatch) for f in (True, False))
    parse = lambda b: [json.loads(line) for line in b.decode().splitlines()]  # noqa: E731
    assert parse(fast) == parse(slow) and len(parse(fast)) == len(TRICKY)
    assert parse(fast)[7]["message"] == "multi\nline" and parse(fast)[11]["message"] == "back\\slash"
    assert parse(fast)[1]["attributes"] == {"k": "+33 6 12", "n": 1, "nested": {"x": [1, 2]}, "b": True}


def test_only_the_orgs_rows_and_the_querys(ch: ClickHouseLogStore, org_a: Any, org_b: Any, alice: Any,
                                            monkeypatch: Any) -> None:
    _seed(ch, org_a)
    _seed(ch, org_b)
    recording = RecordingExecutor(ch.executor)  # type: ignore[arg-type]
    monkeypatch.setattr(ch, "executor", recording)
    export, data = _export(org_a, alice, "csv", True, monkeypatch, query="level=error", use_gzip=False)
    rows = list(csv.DictReader(io.StringIO(data.decode(), newline="")))
    assert len(rows) == export.rows_written == export.rows_total == len(TRICKY[1::3])
    assert {r["level"] for r in rows} == {"error"}
    written = [(sql, params) for sql, params in recording.statements if "INTO OUTFILE" in sql]
    assert written and all(re.search(r"WHERE org_id = \{p0:\w+\}", sql) and params["p0"] == org_a.pk
                          for sql, params in written)


def test_parts_are_gzip_members_of_one_file_in_order(ch: ClickHouseLogStore, org_a: Any, alice: Any,
                                                     monkeypatch: Any) -> None:
    """A row every five minutes over five hours, parts of at least 12 rows (cut at hours): several
    engine-written members, one valid gzip file, the rows in time order, progress reported between parts."""
    ch.write_logs([LogRecord(org_id=org_a.pk, time=NOW - timedelta(minutes=5 * m), body=f"m{m}") for m in range(60)])
    real = ch_stream.iter_parts
    monkeypatch.setattr(ch_stream, "iter_parts", lambda *a, **k: real(*a, part_rows=12))
    reports: list[int] = []
    monkeypatch.setattr(services, "PROGRESS_ROWS", 1)
    monkeypatch.setattr(services._Progress, "report", lambda self, rows: reports.append(rows) or True)
    export, data = _export(org_a, alice, "ndjson", True, monkeypatch, start=NOW - timedelta(hours=6))
    raw = export.file_path().read_bytes()  # type: ignore[union-attr]
    assert raw.count(b"\x1f\x8b\x08") >= 5  # a gzip member per part, written by the engine
    assert [json.loads(line)["message"] for line in data.splitlines()] == [f"m{m}" for m in range(59, -1, -1)]
    assert len(reports) >= 5 and reports == sorted(reports) and export.rows_written == 60
    assert not list(export.file_path().parent.glob("*.part*"))  # type: ignore[union-attr]


def test_plan_parts_covers_the_window_once() -> None:
    h = ch_stream.HOUR_US
    assert ch_stream.plan_parts([], 5, 10 * h, 100) == [(5, 10 * h, 0)]
    assert ch_stream.plan_parts([(0, 60), (1, 50), (3, 10)], 5, 10 * h, 100) == [(5, 2 * h, 110), (2 * h, 10 * h, 10)]
    assert ch_stream.plan_parts([(9, 200)], 5, 10 * h, 100) == [(5, 10 * h, 200)]


def test_python_holds_no_rows_while_the_engine_writes(ch: ClickHouseLogStore, org_a: Any, alice: Any,
                                                      monkeypatch: Any) -> None:
    """200,000 rows (~30 MB of CSV): Python's allocations stay far below the data's size."""
    ch.executor.execute(
        "INSERT INTO logs_record (org_id, time_us, service, level, severity_number, body, trace_id, span_id, "
        "correlation_id, user_id, resource, attributes) SELECT {org:UInt64}, {t:Int64} + number, 'svc', 'info', 9, "
        "concat('request ', toString(number), ' completed with a body long enough to matter'), "
        "lower(hex(cityHash64(number))), '', toString(number), '', '{}', '{\"n\":1}' FROM numbers(200000)",
        {"org": org_a.pk, "t": int((NOW - timedelta(minutes=30)).timestamp() * 1e6)})
    export = services.create_export(org_a, alice, services.ExportRequest(query="", start=T0, end=T1, gzip=False))
    tracemalloc.start()
    try:
        assert services.run_export(export.pk) == ExportStatus.DONE
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    export.refresh_from_db()
    assert export.rows_written == 200_000 and export.size_bytes > 20_000_000
    assert peak < 2_000_000, peak
    with export.file_path().open() as f:  # type: ignore[union-attr]
        assert sum(1 for _ in f) == 200_001


def test_cancel_between_parts_leaves_no_file(ch: ClickHouseLogStore, org_a: Any, alice: Any, settings: Any,
                                             monkeypatch: Any) -> None:
    ch.write_logs([LogRecord(org_id=org_a.pk, time=NOW - timedelta(minutes=m), body=f"m{m}") for m in range(1, 100)])
    real = ch_stream.iter_parts
    monkeypatch.setattr(ch_stream, "iter_parts", lambda *a, **k: real(*a, part_rows=10))
    monkeypatch.setattr(services, "PROGRESS_ROWS", 1)
    export = services.create_export(org_a, alice, services.ExportRequest(query="", start=T0, end=T1))
    calls = []

    def cancel_on_second(self: Any, rows: int) -> bool:
        calls.append(rows)
        if len(calls) == 2:
            Export.objects.all_orgs().filter(pk=export.pk).update(cancel_requested=True)
            return False
        return True

    monkeypatch.setattr(services._Progress, "report", cancel_on_second)
    assert services.run_export(export.pk) == ExportStatus.CANCELLED
    assert list(settings.EXPORTS_DIR.glob("*/*")) == []
