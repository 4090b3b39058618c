"""The one way to the shared cache: values, counters and locks (Redis when REDIS_URL is set, else in process).

The cache is an optimisation and a coordination aid, never a reason to fail a request. When Redis is
unreachable every operation degrades instead of raising:

- values (`get`, `get_many`, `set`, `set_many`, `delete`): a read is a miss, a write is dropped;
- counters behind rate limits and throttles (`incr`, `decr`, `count`): counted in this process until
  Redis is back, so a limit still holds per process rather than not at all;
- locks (`lock`): a file lock on this machine, so work on one machine stays serialized.

An outage is logged once per process (and its end once), and every degraded operation is counted in
`portal_cache_unavailable_total{op}`.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.core.cache.backends.locmem import LocMemCache
from redis.exceptions import RedisError

from portal.core.metrics import CACHE_UNAVAILABLE

log = logging.getLogger(__name__)

T = TypeVar("T")

# What "Redis is down or unreachable" looks like: redis-py's own errors and the socket's.
UNAVAILABLE: tuple[type[BaseException], ...] = (RedisError, OSError)

# Counters fall back here while the shared cache is unreachable (thread safe, with expiry).
_local = LocMemCache("portal-cache-fallback", {"MAX_ENTRIES": 10_000})


class _Outage:
    """Whether this process currently sees the shared cache down, so that an outage is logged once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.down = False

    def failed(self, op: str, exc: BaseException) -> None:
        CACHE_UNAVAILABLE.labels(op=op).inc()
        with self._lock:
            if self.down:
                return
            self.down = True
        log.warning("shared cache unavailable (%s: %s): reads miss, counters and locks are kept in this "
                    "process until it is back", type(exc).__name__, exc)

    def succeeded(self) -> None:
        if not self.down:
            return
        with self._lock:
            if not self.down:
                return
            self.down = False
        log.warning("shared cache is back")


OUTAGE = _Outage()


def shared(op: str, remote: Callable[[], T], fallback: Callable[[], T]) -> T:
    """`remote()`, or `fallback()` when the shared cache is unreachable. For code that needs Redis
    commands the cache API lacks (pipelines, sets), with `redis_client()`."""
    try:
        value = remote()
    except UNAVAILABLE as exc:
        OUTAGE.failed(op, exc)
        return fallback()
    OUTAGE.succeeded()
    return value


def redis_client() -> Any:
    """The shared cache's own Redis client (its connection pool and timeouts), or None when the cache is
    not Redis (the embedded default). Use it only inside `shared()`."""
    backend = getattr(cache, "_cache", None)
    get_client = getattr(backend, "get_client", None)
    if get_client is None:
        return None
    return get_client(write=True)


# ---------------------------------------------------------------- values: down = miss


def get(key: str, default: Any = None) -> Any:
    return shared("get", lambda: cache.get(key, default), lambda: default)


def get_many(keys: list[str]) -> dict[str, Any]:
    return shared("get_many", lambda: cache.get_many(keys), dict)


def set(key: str, value: Any, ttl: int) -> None:  # noqa: A001 - the cache vocabulary
    shared("set", lambda: cache.set(key, value, ttl), lambda: None)


def set_many(values: Mapping[str, Any], ttl: int) -> None:
    shared("set_many", lambda: cache.set_many(dict(values), ttl), lambda: None)


def delete(key: str) -> None:
    """Also forgets the key's in-process fallback counter, so a reset holds through an outage."""
    _local.delete(key)
    shared("delete", lambda: cache.delete(key), lambda: None)


# ---------------------------------------------------------------- counters: down = in process


def _incr(store: Any, key: str, delta: int, ttl: int) -> int:
    store.add(key, 0, ttl)
    try:
        return int(store.incr(key, delta))
    except ValueError:  # expired between add and incr: this increment starts a new window
        store.add(key, delta, ttl)
        return delta


def incr(key: str, delta: int = 1, ttl: int = 60) -> int:
    """Add `delta` to a counter that expires `ttl` s after its first increment; the new value."""
    return shared("incr", lambda: _incr(cache, key, delta, ttl), lambda: _incr(_local, key, delta, ttl))


def decr(key: str, delta: int = 1) -> None:
    """Take `delta` off a counter; a counter that expired (or lives elsewhere after an outage) is left."""

    def on(store: Any) -> Callable[[], None]:
        def run() -> None:
            with contextlib.suppress(ValueError):
                store.decr(key, delta)

        return run

    shared("decr", on(cache), on(_local))


def count(key: str) -> int:
    """A counter's value (0 when absent)."""
    return int(shared("count", lambda: cache.get(key, 0), lambda: _local.get(key, 0)) or 0)


# ---------------------------------------------------------------- locks: down = file lock on this machine


@contextlib.contextmanager
def _file_lock(name: str) -> Iterator[None]:
    path = Path(settings.VAR_DIR) / "locks" / (name.replace(":", "-") + ".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def lock(name: str, *, timeout: float = 600.0, blocking_timeout: float = 120.0) -> Iterator[None]:
    """Hold `name` across processes: a Redis lock (that expires after `timeout` s should its holder die)
    when the cache is Redis, else or while Redis is down a file lock on this machine. TimeoutError when
    another holder keeps it longer than `blocking_timeout` s."""
    client = redis_client()
    held: Any = None
    if client is not None:
        candidate = client.lock(name, timeout=timeout, blocking_timeout=blocking_timeout)
        acquired = shared("lock", candidate.acquire, lambda: None)
        if acquired is False:
            raise TimeoutError(f"another holder keeps the lock {name!r}")
        held = candidate if acquired else None
    if held is None:
        with _file_lock(name):
            yield
        return
    try:
        yield
    finally:
        with contextlib.suppress(*UNAVAILABLE, ValueError):
            held.release()  # expired or Redis gone: the lock's timeout has freed it already
