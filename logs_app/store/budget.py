"""The time budget of one log/trace read (`LOGS_QUERY_TIMEOUT` seconds) on both built-in stores.

One org's search must not pin a web worker or a database backend for everyone else:

- PostgreSQL: `statement_timeout` is set for the statement's transaction only (`set_config(..., true)`),
  so the server cancels it, whatever the plan or the regex (its engine backtracks on backreferences).
- SQLite: REGEXP runs RE2 (logs_app/query/regex.py: linear time in the record's length), and a
  progress handler interrupts the statement once the deadline has passed.

Either way the caller gets `QueryBudgetExceeded`: a 504 naming the limit. The connection stays usable.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings

from portal.errors import ServiceError

SETTING = "LOGS_QUERY_TIMEOUT"
# The progress handler runs every this many SQLite VM instructions: often enough to stop within a few
# milliseconds of the deadline, rarely enough to cost nothing measurable.
PROGRESS_STEPS = 5000


class QueryBudgetExceeded(ServiceError):
    def __init__(self, seconds: float) -> None:
        super().__init__(
            504, "query_timeout",
            f"The search ran past its time budget of {seconds:g} s ({SETTING}) and was stopped; "
            "narrow the time range or simplify the query (a regular expression with backreferences is "
            "the usual cause).",
            {"limit": SETTING, "seconds": seconds},
        )


def budget_seconds() -> float:
    return float(getattr(settings, SETTING, 10.0))


# -- PostgreSQL --------------------------------------------------------------------------------------

def is_statement_timeout(exc: BaseException) -> bool:
    """The server cancelled the statement for running past `statement_timeout` (SQLSTATE 57014)."""
    cause = exc.__cause__ or exc
    return getattr(cause, "sqlstate", None) == "57014"


# -- SQLite ------------------------------------------------------------------------------------------

@contextmanager
def sqlite_budget(raw: sqlite3.Connection, seconds: float) -> Iterator[list[bool]]:
    """Interrupt statements on `raw` once `seconds` have passed. Yields a one-item list that is True when
    the interruption was this budget's (so a caller tells it from any other OperationalError)."""
    deadline = time.monotonic() + seconds
    expired = [False]

    def check() -> int:
        if time.monotonic() >= deadline:
            expired[0] = True
            return 1
        return 0

    raw.set_progress_handler(check, PROGRESS_STEPS)
    try:
        yield expired
    finally:
        raw.set_progress_handler(None, PROGRESS_STEPS)
