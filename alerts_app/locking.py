"""One sync at a time across processes (Celery workers on several machines): the shared cache's lock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from portal.core import cache

LOCK_NAME = "portal:alerts:sync-lock"


@contextmanager
def sync_lock(timeout: float = 120.0) -> Iterator[None]:
    with cache.lock(LOCK_NAME, timeout=600, blocking_timeout=timeout):
        yield
