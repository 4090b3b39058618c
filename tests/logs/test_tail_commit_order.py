"""Live tail when commit order is not id order (PostgreSQL): two writers, the one holding the lower ids
commits last. A plain "id > last seen" cursor skips its records for good; the tail must deliver them once
they commit, and never twice. SQLite serialises writers, so ids are always in commit order there."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from django.db import connection

from logs_app.store import get_store
from logs_app.store.records import to_us
from tests.logs.conftest import NOW, make_log

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers; CI runs on PostgreSQL"),
    pytest.mark.django_db(transaction=True),
]


def _other_writer() -> psycopg.Connection[Any]:
    """A second connection, as another gunicorn worker's would be."""
    s = connection.settings_dict
    return psycopg.connect(dbname=s["NAME"], user=s["USER"], password=s["PASSWORD"] or None,
                           host=s["HOST"] or None, port=s["PORT"] or None)


def _insert(conn: psycopg.Connection[Any], org: Any, body: str, level: str = "info") -> None:
    conn.execute("INSERT INTO logs_record (org_id, time_us, body, level) VALUES (%s, %s, %s, %s)",
                 [org.pk, to_us(NOW), body, level])


def _bodies(page: Any) -> list[str]:
    return [r.body for r in page.records]


def test_a_batch_committed_after_a_later_one_is_still_tailed(org_a: Any, org_b: Any) -> None:
    store = get_store()
    store.write_logs([make_log(org_a, time=NOW, body="before the tail")])  # today's partition exists
    start = store.tail(org_a, "")
    with _other_writer() as other:
        with other.transaction():
            _insert(other, org_a, "lower id, committed last")
            _insert(other, org_b, "another org, committed last")
            store.write_logs([make_log(org_a, time=NOW, body="higher id, committed first")])
            first = store.tail(org_a, "", start.next_cursor)
            assert _bodies(first) == ["higher id, committed first"]
        second = store.tail(org_a, "", first.next_cursor)
        assert _bodies(second) == ["lower id, committed last"]
        assert store.tail(org_a, "", second.next_cursor).records == []  # delivered once


def test_a_late_commit_is_filtered_like_the_rest(org_a: Any) -> None:
    store = get_store()
    store.write_logs([make_log(org_a, time=NOW, body="warm")])
    start = store.tail(org_a, "level=error")
    with _other_writer() as other:
        with other.transaction():
            _insert(other, org_a, "late error", level="error")
            _insert(other, org_a, "late info", level="info")
            store.write_logs([make_log(org_a, time=NOW, body="early error", level="error")])
            first = store.tail(org_a, "level=error", start.next_cursor)
        second = store.tail(org_a, "level=error", first.next_cursor)
    assert _bodies(first) == ["early error"] and _bodies(second) == ["late error"]


def test_full_pages_deliver_every_record_once(org_a: Any) -> None:
    store = get_store()
    store.write_logs([make_log(org_a, time=NOW, body="warm")])
    cursor = store.tail(org_a, "").next_cursor
    with _other_writer() as other:
        with other.transaction():
            for i in range(3):
                _insert(other, org_a, f"late {i}")
            store.write_logs([make_log(org_a, time=NOW, body=f"early {i}") for i in range(5)])
            seen: list[str] = []
            for _ in range(4):
                page = store.tail(org_a, "", cursor, limit=2)
                seen += _bodies(page)
                cursor = page.next_cursor
        for _ in range(4):
            page = store.tail(org_a, "", cursor, limit=2)
            seen += _bodies(page)
            cursor = page.next_cursor
    assert sorted(seen) == sorted([f"early {i}" for i in range(5)] + [f"late {i}" for i in range(3)])


def test_a_tampered_snapshot_in_the_cursor_is_refused(org_a: Any) -> None:
    from logs_app.store.records import CursorError, decode_cursor, encode_cursor

    store = get_store()
    good = decode_cursor(store.tail(org_a, "").next_cursor, "i", "s")
    with pytest.raises(CursorError):
        store.tail(org_a, "", encode_cursor(**{**good, "s": "1:2:3'; DROP TABLE logs_record; --"}))
