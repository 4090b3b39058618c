"""Celery: tasks in process without a broker; a real worker on Redis with one; a beat schedule."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from portal.celery import app

ROOT = Path(__file__).resolve().parents[2]


def test_beat_schedule_names_registered_tasks():
    app.loader.import_default_modules()
    assert app.conf.beat_schedule
    for entry in app.conf.beat_schedule.values():
        assert entry["task"] in app.tasks, entry["task"]


@pytest.mark.django_db
def test_tasks_run_in_process_without_broker(settings):
    from portal.tenancy.tasks import prune_audit

    assert settings.CELERY_TASK_ALWAYS_EAGER or os.environ.get("REDIS_URL")
    result = prune_audit.apply()
    assert result.successful() and result.get() == 0


def test_real_worker_on_redis(tmp_path):
    """Start a real worker on a Redis database of its own, send a task, read its result back."""
    redis_url = "redis://127.0.0.1:6379/14"
    env = dict(os.environ, REDIS_URL=redis_url, PORTAL_VAR_DIR=str(tmp_path),
               DATABASE_URL=f"sqlite:///{tmp_path}/w.sqlite3")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    worker = subprocess.Popen([sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool", "solo",
                               "--loglevel", "WARNING"], cwd=ROOT, env=env, start_new_session=True)
    try:
        probe = (
            "import django; django.setup();"
            "from portal.tenancy.tasks import prune_audit;"
            "print(prune_audit.delay().get(timeout=60))"
        )
        r = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env={**env, "DJANGO_SETTINGS_MODULE":
                           "portal.settings"}, capture_output=True, text=True, timeout=90)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "0"
    finally:
        worker.terminate()
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            worker.kill()
        time.sleep(0.1)


@pytest.mark.django_db
def test_beat_runs_in_process_without_broker():
    """The embedded default has no broker: `beat_inprocess` runs every scheduled task in process."""
    from io import StringIO

    from django.core.management import call_command

    from portal.core.metrics import TASKS

    before = TASKS.labels(task="portal.tenancy.tasks.prune_audit", outcome="success")._value.get()
    call_command("beat_inprocess", "--once", stdout=StringIO())
    after = TASKS.labels(task="portal.tenancy.tasks.prune_audit", outcome="success")._value.get()
    assert after == before + 1
