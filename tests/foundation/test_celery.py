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
            "print(prune_audit.apply_async(ignore_result=False).get(timeout=60))"
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


def test_every_task_is_declared_the_one_way_with_an_explicit_name():
    """`portal.core.task_policy.task("name")` on every task: the name is written out in its module."""
    import inspect
    import sys

    app.loader.import_default_modules()
    import logs_app.exports.tasks  # noqa: F401 - imported by its models, listed here to be sure

    ours = {name: t for name, t in app.tasks.items() if not name.startswith("celery.")}
    assert len(ours) >= 10
    for name, t in ours.items():
        source = inspect.getsource(sys.modules[t.run.__module__])
        assert f'@task("{name}"' in source, name
    for path in ROOT.glob("*/**/tasks.py"):
        if ".venv" not in path.parts:
            assert "shared_task" not in path.read_text(), path


def test_retry_policy_retries_transient_errors_only():
    from portal.core.task_policy import RetryPolicy, task

    class Flaky(Exception):
        def __init__(self, transient: bool) -> None:
            super().__init__("transient" if transient else "permanent")
            self.transient = transient

    policy = RetryPolicy(retry_on=(Flaky,), max_retries=3, first_delay=1, max_delay=5, expires=60,
                         in_process=lambda exc: f"later: {exc}")

    @task("tests.celery.flaky", retry=policy)
    def flaky(transient: bool) -> str:
        raise Flaky(transient)

    assert (flaky.name, flaky.max_retries, flaky.expires) == ("tests.celery.flaky", 3, 60)
    assert [policy.countdown(n) for n in range(5)] == [1, 2, 4, 5, 5]
    # In process (the suite's eager mode) a transient error is the policy's answer; a permanent one raises.
    assert flaky.delay(True).get() == "later: transient"
    with pytest.raises(Flaky, match="permanent"):
        flaky.delay(False)


def test_periodic_entries_name_one_task():
    from portal.celery import periodic
    from portal.tenancy.tasks import prune_audit

    app.loader.import_default_modules()
    periodic("audit-prune", prune_audit, app.conf.beat_schedule["audit-prune"]["schedule"])  # same: fine
    with pytest.raises(ValueError, match="already runs"):
        periodic("audit-prune", app.tasks["logs_app.tasks.apply_log_retention"], 60.0)
