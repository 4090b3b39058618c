"""One sync at a time across processes: a Redis lock when REDIS_URL is set (Celery workers on several
machines), else an fcntl file lock (the embedded single-machine default)."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings

LOCK_NAME = "portal:alerts:sync-lock"


@contextlib.contextmanager
def sync_lock(timeout: float = 120.0) -> Iterator[None]:
    if settings.REDIS_URL:
        import redis

        conn = redis.Redis.from_url(settings.REDIS_URL)
        lock = conn.lock(LOCK_NAME, timeout=600, blocking_timeout=timeout)
        if not lock.acquire():
            raise TimeoutError("another alert sync holds the lock")
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                lock.release()
        return
    path = Path(settings.VAR_DIR) / "alerts-sync.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
