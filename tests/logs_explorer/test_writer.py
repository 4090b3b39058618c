"""The streaming writer: CSV formula escaping, NDJSON, gzip, atomic finish, constant memory."""

from __future__ import annotations

import csv
import gzip
import io
import json
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from logs_app.exports.writer import COLUMNS, ExportWriter, escape_cell
from logs_app.store.records import LogRecord

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize("value", ["=1+1", "+1", "-2", "@SUM(A1)", "\tcmd", "\rcmd", "=HYPERLINK(\"x\")"])
def test_formula_cells_are_escaped(value: str) -> None:
    assert escape_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["", "plain", "1+1", "a=b", " =x"])
def test_ordinary_cells_unchanged(value: str) -> None:
    assert escape_cell(value) == value


def _rec(i: int, body: str = "hello", service: str = "api") -> LogRecord:
    return LogRecord(org_id=1, time=T0 + timedelta(seconds=i), body=body, service=service, level="error",
                     trace_id="ab" * 16, correlation_id="c-1", attributes={"k": i})


def test_csv_gzip_round_trip_escapes_formulas(tmp_path: Path) -> None:
    path = tmp_path / "x.csv.gz"
    w = ExportWriter(path, "csv", use_gzip=True)
    w.write(_rec(0, body='=cmd|"/c calc"!A1', service="@evil"))
    w.write(_rec(1, body="line, with \"quotes\"\nand newline"))
    w.write({"timestamp": "t", "level": "info", "message": "-5", "service": "s"})  # a plain mapping works too
    size = w.close()
    assert size == path.stat().st_size and not path.with_name("x.csv.gz.part").exists()
    rows = list(csv.reader(io.StringIO(gzip.decompress(path.read_bytes()).decode())))
    assert tuple(rows[0]) == COLUMNS
    assert rows[1][3] == '\'=cmd|"/c calc"!A1' and rows[1][2] == "'@evil"
    assert rows[2][3] == 'line, with "quotes"\nand newline'
    assert rows[3][3] == "'-5"
    assert json.loads(rows[1][7]) == {"k": 0}


def test_ndjson_plain(tmp_path: Path) -> None:
    path = tmp_path / "x.ndjson"
    w = ExportWriter(path, "ndjson", use_gzip=False)
    for i in range(3):
        w.write(_rec(i, body="=not escaped in json"))
    w.close()
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert len(lines) == 3 and lines[0]["message"] == "=not escaped in json"
    assert lines[2]["timestamp"] == (T0 + timedelta(seconds=2)).isoformat(timespec="microseconds")
    assert lines[2]["attributes"] == {"k": 2}


def test_abort_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "y.csv"
    w = ExportWriter(path, "csv", use_gzip=True)
    w.write(_rec(0))
    w.abort()
    assert list(tmp_path.iterdir()) == []


def test_memory_stays_flat_while_streaming(tmp_path: Path) -> None:
    """200k records through the writer allocate no more than a small, fixed amount at peak."""
    tracemalloc.start()
    try:
        w = ExportWriter(tmp_path / "big.csv.gz", "csv", use_gzip=True)
        for i in range(200_000):
            w.write(_rec(i, body=f"request {i} handled with some text to make the row realistic"))
        w.close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert w.rows == 200_000
    assert peak < 4 * 1024 * 1024, f"peak {peak} bytes"
