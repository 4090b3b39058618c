"""The store on the embedded default (SQLite), shown in CI too: CI runs this suite on PostgreSQL, so here the
store, retention and OTLP receiver tests run again in a child pytest on a fresh SQLite database."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
SUITES = ["tests/logs/test_store.py", "tests/logs/test_retention.py", "tests/logs/test_otlp.py",
          "tests/logs/test_api.py", "tests/security/test_bounded_work.py", "tests/logs/test_trace_analysis.py",
          "tests/logs/test_durations.py::test_every_form_of_a_duration_matches_the_same_comparisons[sql]"]


@pytest.mark.django_db  # only so that the session's database setup runs when this test runs alone
@pytest.mark.timeout(1500)  # a whole child suite (the suite-wide 300 s is per test)
@pytest.mark.skipif(connection.vendor == "sqlite", reason="this run is on SQLite already: those tests ran directly")
def test_store_contract_on_the_embedded_sqlite_default(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "PORTAL_DB_VENDOR_FILE", "LOGS_STORE")
           and not k.startswith("COV_CORE_")}  # the parent's coverage stays the parent's
    env.update(PORTAL_VAR_DIR=str(tmp_path), PORTAL_DB_VENDOR_FILE=str(tmp_path / "vendor.txt"))
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "--no-cov", *SUITES],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    tail = run.stdout[-3000:]
    assert run.returncode == 0, tail
    assert (tmp_path / "vendor.txt").read_text() == "sqlite"
    passed = re.search(r"(\d+) passed", tail)
    assert passed and int(passed.group(1)) >= 60, tail
