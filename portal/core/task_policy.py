"""The one way to declare a Celery task: `@task("app.name", retry=RetryPolicy(...))`.

Every task gets an explicit, stable name (what the broker, beat and the metrics see, so a refactor that
moves a function does not strand queued messages). A task that calls a backend declares one retry policy:
only transient errors are retried (an error whose `transient` attribute is False is not, even when its
class is listed), with capped exponential backoff, a bounded number of tries, and `expires`, so that a
message that waited out a long outage is dropped rather than run late (the periodic reconcile repairs).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from celery import shared_task

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    retry_on: tuple[type[BaseException], ...]
    max_retries: int = 8
    first_delay: int = 2  # seconds; doubles on every try
    max_delay: int = 300
    expires: int = 3600  # seconds after sending: a retry still queued past this is dropped
    # In process (no broker, so nothing can be delayed) a transient error is returned as this function's
    # value instead of raised; None raises it.
    in_process: Callable[[BaseException], Any] | None = field(default=None)

    def countdown(self, retries: int) -> int:
        """2, 4, 8 … capped at max_delay: a backend restart is usually over within the first few tries."""
        return int(min(self.first_delay * 2**retries, self.max_delay))

    def retries(self, exc: BaseException) -> bool:
        return isinstance(exc, self.retry_on) and getattr(exc, "transient", True) is not False


def task(name: str, *, retry: RetryPolicy | None = None, **options: Any) -> Callable[[Callable[..., Any]], Any]:
    """Register `fn` as the Celery task `name` (other options: Celery's, e.g. time_limit, acks_late)."""

    def decorate(fn: Callable[..., Any]) -> Any:
        if retry is None:
            return shared_task(name=name, **options)(fn)

        def run(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except retry.retry_on as exc:
                if not retry.retries(exc):
                    raise
                if self.request.is_eager:
                    if retry.in_process is None:
                        raise
                    log.warning("task %s failed in process (the periodic repair retries): %s", name, exc)
                    return retry.in_process(exc)
                countdown = retry.countdown(self.request.retries)
                log.warning("task %s failed (try %d of %d), retrying in %d s: %s", name,
                            self.request.retries + 1, retry.max_retries + 1, countdown, exc)
                raise self.retry(exc=exc, countdown=countdown) from exc

        # Name and docs only: not `functools.wraps`, whose `__wrapped__` would make Celery check calls
        # against the unbound signature.
        for attr in ("__module__", "__name__", "__qualname__", "__doc__"):
            setattr(run, attr, getattr(fn, attr))
        return shared_task(name=name, bind=True, max_retries=retry.max_retries, expires=retry.expires,
                           **options)(run)

    return decorate


def enqueue_on_commit(task_fn: Any, *args: Any, on_failure: Callable[[], object] | None = None) -> None:
    """Send `task_fn(*args)` to the workers once the surrounding transaction commits: the one way to queue
    work from a request.

    A broker that is down must not turn a committed write into an error page: the failure is logged,
    `on_failure` (if any) records it where the user looks, and the periodic repair (alerts reconcile,
    file_sd rewrite) does the work later. Results are not stored (CELERY_TASK_IGNORE_RESULT), so sending
    needs the broker only and fails within a second when it is unreachable."""
    from django.db import transaction
    from kombu.exceptions import OperationalError

    def send() -> None:
        try:
            task_fn.delay(*args)
        except OperationalError as exc:
            log.warning("task queue unavailable, %s%r not sent (the periodic repair does it): %s",
                        getattr(task_fn, "name", task_fn), args, exc)
            if on_failure is not None:
                on_failure()

    transaction.on_commit(send)
