"""Forwarding admitted series to the org's remote-write endpoint: batched, retried, bounded.

A request is acknowledged only after the backend accepted its samples, so an acknowledged sample is
never lost when the backend goes away: the sender gets 503 + Retry-After instead and resends. The
per-process queue bounds the samples waiting for the backend; when it is full new requests get 429 +
Retry-After at once rather than piling up. Each batch is retried with exponential backoff on 5xx, 429,
timeouts and refused connections until a deadline. A batch the backend refuses with a 4xx (out of
order, too old: Prometheus rolls back the whole request then) is split in halves until the bad series
are isolated, so the valid rest is written and each refused series is reported with the backend's words.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence
from typing import Any

from django.conf import settings

from metrics_in_app import remote_pb
from metrics_in_app.destination import WriteTarget
from metrics_in_app.rejections import Rejections
from metrics_in_app.series import Admitted, describe
from portal.backends.errors import BackendError, BackendRejected, BackendTimeout, BackendUnavailable
from portal.backends.remote_write import RemoteWriteClient

MAX_SPLIT_REQUESTS = 512  # bisection budget per request; past it, still-mixed batches are reported refused


class QueueFull(Exception):
    pass


def build(batch: Sequence[Admitted], metadata: dict[str, tuple[int, str, str]] | None = None) -> Any:
    wr = remote_pb.WriteRequest()
    for a in batch:
        ts = wr.timeseries.add()
        for name, value in a.labels:
            ts.labels.add(name=name, value=value)
        if isinstance(a.samples, list):
            sample = remote_pb.Sample  # building messages then one extend is about twice as fast as add()
            ts.samples.extend([sample(value=v, timestamp=t) for t, v in a.samples])
        else:
            ts.samples.extend(a.samples)
    for family, (mtype, help_text, unit) in (metadata or {}).items():
        wr.metadata.add(type=mtype, metric_family_name=family, help=help_text, unit=unit)
    return wr


class Forwarder:
    def __init__(self, client: RemoteWriteClient | None = None) -> None:
        self._lock = threading.Lock()
        self._inflight = 0
        self.client = client or RemoteWriteClient()

    @property
    def inflight(self) -> int:
        return self._inflight

    def _reserve(self, n: int) -> None:
        with self._lock:
            # One oversized request may pass an empty queue; otherwise wait for room.
            if self._inflight and self._inflight + n > settings.METRICS_IN_QUEUE_MAX_SAMPLES:
                raise QueueFull()
            self._inflight += n

    def _release(self, n: int) -> None:
        with self._lock:
            self._inflight -= n

    def forward(self, target: WriteTarget, series: Sequence[Admitted], metadata: dict[str, tuple[int, str, str]],
                rej: Rejections) -> int:
        """Write every series (backend refusals go to `rej`); returns the samples written."""
        n = sum(len(a.samples) for a in series)
        if not series:
            return 0
        self._reserve(n)
        try:
            deadline = time.monotonic() + settings.METRICS_IN_FORWARD_DEADLINE_SECONDS
            budget = [MAX_SPLIT_REQUESTS]
            written = 0
            size = settings.METRICS_IN_BATCH_SERIES
            for i in range(0, len(series), size):
                batch = series[i:i + size]
                written += self._write(target, batch, metadata if i == 0 else None, rej, deadline, budget)
            return written
        finally:
            self._release(n)

    def _write(self, target: WriteTarget, batch: Sequence[Admitted], metadata: dict[str, tuple[int, str, str]] | None,
               rej: Rejections, deadline: float, budget: list[int]) -> int:
        try:
            self._post(target, remote_pb.encode(build(batch, metadata)), deadline)
            return sum(len(a.samples) for a in batch)
        except BackendRejected as e:
            if len(batch) == 1 or budget[0] <= 0:
                for a in batch:
                    rej.add("backend_rejected", len(a.samples),
                            f"{describe(a.labels)}: {target.name} refused it ({e.status}): {e.message}")
                return 0
            budget[0] -= 2
            mid = len(batch) // 2
            return (self._write(target, batch[:mid], metadata, rej, deadline, budget)
                    + self._write(target, batch[mid:], None, rej, deadline, budget))

    def _post(self, target: WriteTarget, body: bytes, deadline: float) -> None:
        """Raises BackendRejected at once (the caller bisects), and the last transient error, with the
        number of attempts, once the deadline has passed."""
        delay = settings.METRICS_IN_RETRY_BASE_SECONDS
        attempt = 0
        while True:
            attempt += 1
            try:
                self.client.write(target.url, body, backend=target.name, headers=target.headers,
                                  timeout=settings.METRICS_IN_FORWARD_TIMEOUT_SECONDS)
                return
            except BackendError as e:
                if not e.transient:
                    raise
                last = e  # refused, reset, 5xx, 429, timeouts: the backend may come back
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                kind = BackendTimeout if isinstance(last, BackendTimeout) else BackendUnavailable
                raise kind(target.name, f"{target.url} is not accepting writes: {last.message} "
                                        f"(after {attempt} attempts)", status=last.status) from last
            # Full jitter keeps a crowd of waiting requests from retrying in lockstep.
            time.sleep(min(remaining, random.uniform(delay / 2, delay)))
            delay = min(delay * 2, settings.METRICS_IN_RETRY_MAX_SECONDS)


FORWARDER = Forwarder()
