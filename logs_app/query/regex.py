"""The regular-expression engine of the SQLite store's REGEXP: RE2, linear in the record's length.

Python's `re` (what Django registers for SQLite) backtracks: `(a+)+$` over a 5,000-character record never
finishes, and a Python function called by SQLite cannot be interrupted. RE2 has no backreferences or
look-arounds, so such patterns are refused on SQLite with a 400 instead.
"""

from __future__ import annotations

import sqlite3
from functools import lru_cache
from typing import Any

import re2

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a user's bad pattern is a 400, not a line on the server's stderr


@lru_cache(maxsize=256)
def compile_re2(pattern: str) -> Any:
    """RE2 for a search pattern; raises `re2.error` for what RE2 cannot run."""
    return re2.compile(pattern, options=_OPTIONS)


def re2_error(pattern: str) -> str | None:
    """Why RE2 refuses `pattern`, or None when it runs it."""
    try:
        compile_re2(pattern)
    except re2.error as e:
        text = e.args[0] if e.args else e
        return text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    return None


def sqlite_regexp(pattern: str | None, value: Any) -> bool | None:
    if pattern is None or value is None:
        return None
    return compile_re2(pattern).search(value if isinstance(value, str) else str(value)) is not None


def install_sqlite_regexp(raw: sqlite3.Connection) -> None:
    """Replace Django's REGEXP on a new SQLite connection (the later registration of a name wins)."""
    raw.create_function("REGEXP", 2, sqlite_regexp, deterministic=True)
