"""Run the Celery beat schedule in this process, for the embedded default without a broker.

With Redis, `celery -A portal worker -B` runs the same schedule; without it `make run` starts this, which
calls each due task in process, one at a time, so periodic work (alert reconcile, retention, scheduled
exports) still happens on a laptop with nothing but Python.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from portal.celery import app

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Run the beat schedule's tasks in process (no broker needed)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="run every task once and exit")

    def handle(self, *args: Any, **opts: Any) -> None:
        app.loader.import_default_modules()
        last_run: dict[str, float] = {}
        while True:
            for name, entry in app.conf.beat_schedule.items():
                schedule = entry["schedule"]
                if not hasattr(schedule, "is_due"):
                    from celery.schedules import schedule as every

                    schedule = every(schedule)
                last = last_run.get(name)
                due = opts["once"] or last is None or schedule.is_due(datetime.fromtimestamp(last, tz=UTC)).is_due
                if not due:
                    continue
                last_run[name] = time.time()
                try:
                    app.tasks[entry["task"]].apply(args=entry.get("args", ()), kwargs=entry.get("kwargs", {}))
                except Exception:
                    log.exception("periodic task %s failed", name)
            if opts["once"]:
                return
            time.sleep(5)
