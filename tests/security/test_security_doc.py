"""docs/security.md names, for each side channel, the test that covers it: every test file it names exists,
and every file of this suite is named there (a new side channel gets its paragraph)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_security_doc_and_suite_name_each_other() -> None:
    doc = (ROOT / "docs" / "security.md").read_text()
    named = set(re.findall(r"`(tests/[\w/]+\.py)", doc))
    assert named, "docs/security.md names no test"
    missing = sorted(p for p in named if not (ROOT / p).is_file())
    assert not missing, f"docs/security.md names tests that do not exist: {missing}"
    suite = {f"tests/security/{p.name}" for p in (ROOT / "tests" / "security").glob("test_*.py")}
    suite.discard("tests/security/test_security_doc.py")
    unnamed = sorted(suite - named)
    assert not unnamed, f"tests in tests/security/ that docs/security.md does not describe: {unnamed}"
