"""Delta temporality → cumulative, per series, as the OpenTelemetry → Prometheus spec allows.

The running totals live in the Django cache (Redis in production, so every worker shares them), keyed by
org and series. They are loaded once per request and written back only after the backend accepted the
samples, so a retried request (after a 503) is not counted twice. Two requests for the same delta series
racing each other can still lose an increment; senders of one series normally export from one process.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from portal.core import cache

STATE_SECONDS = 3600  # a delta series silent for an hour starts again from zero (a counter reset)


@dataclass
class SumState:
    start_ns: int
    last_ns: int
    value: float


@dataclass
class HistState:
    start_ns: int
    last_ns: int
    bounds: tuple[float, ...]
    counts: list[int]
    total: float
    count: int


@dataclass
class DeltaStore:
    org_id: int
    loaded: dict[str, Any] = field(default_factory=dict)
    dirty: dict[str, Any] = field(default_factory=dict)

    def key(self, labels: tuple[tuple[str, str], ...]) -> str:
        digest = hashlib.blake2b(repr(labels).encode(), digest_size=12).hexdigest()
        return f"metrics_in:delta:{self.org_id}:{digest}"

    def load(self, keys: list[str]) -> None:
        if keys:
            self.loaded.update(cache.get_many(list(dict.fromkeys(keys))))

    def get(self, key: str) -> Any:
        return self.dirty.get(key, self.loaded.get(key))

    def put(self, key: str, state: Any) -> None:
        self.dirty[key] = state

    def commit(self) -> None:
        if self.dirty:
            cache.set_many(self.dirty, STATE_SECONDS)
            self.dirty = {}


def add_sum(store: DeltaStore, key: str, start_ns: int, time_ns: int, value: float) -> float | None:
    """The cumulative value after this delta point, or None when the point is older than the last one."""
    state = store.get(key)
    if state is None or not isinstance(state, SumState):
        state = SumState(start_ns or time_ns, time_ns, value)
        store.put(key, state)
        return value
    if time_ns <= state.last_ns:
        return None
    state = SumState(state.start_ns, time_ns, state.value + value)
    store.put(key, state)
    return state.value


def add_histogram(store: DeltaStore, key: str, start_ns: int, time_ns: int, bounds: tuple[float, ...],
                  counts: list[int], total: float, count: int) -> HistState | None:
    state = store.get(key)
    if state is None or not isinstance(state, HistState) or state.bounds != bounds:
        # New series, or the bucket layout changed: start again (Prometheus sees a counter reset).
        state = HistState(start_ns or time_ns, time_ns, bounds, list(counts), total, count)
        store.put(key, state)
        return state
    if time_ns <= state.last_ns:
        return None
    state = HistState(state.start_ns, time_ns, bounds, [a + b for a, b in zip(state.counts, counts, strict=True)],
                      state.total + total, state.count + count)
    store.put(key, state)
    return state
