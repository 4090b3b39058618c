"""What every benchmark shares: the configuration users deploy, and the one-line verdict.

The shipped configuration is docker-compose.yml's: PostgreSQL and Redis with default connection settings
(connections kept 60 s as portal/settings.py ships them, the cache and Celery broker on Redis) and gunicorn started with deploy/gunicorn.conf.py.
A bench never uses the DATABASE_URL or REDIS_URL of the environment as they are: it creates and migrates
its own database `portal_bench_<name>` (on the PostgreSQL server DATABASE_URL points at, when that is a
PostgreSQL URL; else on BENCH_POSTGRES_URL) and uses its own Redis database (BENCH_REDIS_URL), flushed.

    BENCH_POSTGRES_URL   server for the bench databases      default postgres://postgres@127.0.0.1:5432
    BENCH_REDIS_URL      Redis database the benches flush     default redis://127.0.0.1:6379/8
    GUNICORN_WORKERS / GUNICORN_THREADS                       as deploy/gunicorn.conf.py reads them (4 / 4)

Each bench's last line is `PASS|FAIL name=value …` with every target's figure and ratio, and
`config=<database>+<cache>+<server>` naming what ran; scripts/bench.sh collects those lines into a table.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"
DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432"
DEFAULT_REDIS = "redis://127.0.0.1:6379/8"
SECRET_KEY = "bench-only-secret-key-0123456789abcdef0123456789"


def postgres_server() -> str:
    """Scheme, credentials, host and port of the PostgreSQL server the bench databases live on."""
    explicit = os.environ.get("BENCH_POSTGRES_URL")
    if explicit:
        return explicit.rstrip("/")
    current = os.environ.get("DATABASE_URL", "")
    if urlsplit(current).scheme in ("postgres", "postgresql", "pgsql"):
        parts = urlsplit(current)
        return f"{parts.scheme}://{parts.netloc}"
    return DEFAULT_POSTGRES


def database_url(name: str) -> str:
    return f"{postgres_server()}/portal_bench_{name}"


def create_database(url: str) -> None:
    """Drop and create the bench's own database (the name must start with portal_bench_)."""
    import psycopg

    if "django" in sys.modules and os.environ.get("DJANGO_SETTINGS_MODULE"):
        from django.db import connections

        connections.close_all()  # a connection to the database about to be dropped would be dead
    server, _, name = url.rpartition("/")
    if not name.startswith("portal_bench_"):
        raise SystemExit(f"FAIL refusing to recreate {name!r}: bench databases are named portal_bench_*")
    with psycopg.connect(server + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def database_exists(url: str) -> bool:
    import psycopg

    server, _, name = url.rpartition("/")
    with psycopg.connect(server + "/postgres", autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def use_database(url: str, redis_url: str) -> None:
    """Point this process's Django at the bench database and Redis, whatever the environment held, and
    set Django up. Must run before anything imports the settings."""
    os.environ.update({"DATABASE_URL": url, "REDIS_URL": redis_url, "CELERY_BROKER_URL": redis_url,
                       "DJANGO_SETTINGS_MODULE": "portal.settings", "SECRET_KEY": SECRET_KEY, "LOG_LEVEL": "WARNING"})
    import django

    django.setup()
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def fresh_database(name: str, redis_url: str) -> str:
    """Create, migrate and use `portal_bench_<name>`; returns its URL."""
    url = database_url(name)
    print(f"database: creating and migrating {url} ...", flush=True)
    create_database(url)
    use_database(url, redis_url)
    migrate()
    return url


def schema_version() -> str:
    """The migrations the code has, as one string: a loaded data set is reused only under the same schema."""
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    leaves = MigrationLoader(connection, ignore_no_migrations=True).graph.leaf_nodes()
    return ",".join(f"{app}:{name}" for app, name in sorted(leaves))


# A loaded data set describes itself in this table of the bench database (not a portal model): what made
# it, for which schema, how many rows, and the time it was generated around.
_DATASET_DDL = ("CREATE TABLE IF NOT EXISTS bench_dataset (name text PRIMARY KEY, schema text NOT NULL, "
                "generator text NOT NULL, rows bigint NOT NULL, anchor_us bigint NOT NULL)")


def reusable_dataset(name: str, redis: str, generator: str, rows: int, count_sql: str) -> int | None:
    """The anchor time (µs) of `portal_bench_<name>`'s data set when it can be measured again: the database
    exists, is migrated to the code's schema, was loaded by the same generator with `rows` rows, and
    `count_sql` still counts them. None otherwise (the caller loads a fresh one)."""
    url = database_url(name)
    if not database_exists(url):
        print(f"reuse: {url} does not exist; loading", flush=True)
        return None
    use_database(url, redis)
    from django.db import connection

    with connection.cursor() as c:
        c.execute("SELECT to_regclass('bench_dataset') IS NOT NULL")
        if not c.fetchone()[0]:
            print("reuse: no data set recorded; loading", flush=True)
            return None
        c.execute("SELECT schema, generator, rows, anchor_us FROM bench_dataset WHERE name = %s", [name])
        row = c.fetchone()
        if row is None:
            print("reuse: no data set recorded; loading", flush=True)
            return None
        wanted = (schema_version(), generator, rows)
        changed = [what for what, had, want in zip(("schema", "generator", "rows"), row[:3], wanted, strict=True)
                   if had != want]
        if changed:
            print(f"reuse: the loaded data set differs in {', '.join(changed)} (rows: {row[2]:,} loaded, {rows:,} "
                  "wanted); loading", flush=True)
            return None
        c.execute(count_sql)
        counted = c.fetchone()[0]
    if counted != rows:
        print(f"reuse: {counted:,} rows in the store, {rows:,} recorded; loading", flush=True)
        return None
    print(f"reuse: {url} holds the same data set ({rows:,} rows, schema and generator unchanged)", flush=True)
    return int(row[3])


def record_dataset(name: str, generator: str, rows: int, anchor_us: int) -> None:
    from django.db import connection

    with connection.cursor() as c:
        c.execute(_DATASET_DDL)
        c.execute("INSERT INTO bench_dataset VALUES (%s, %s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET "
                  "schema = EXCLUDED.schema, generator = EXCLUDED.generator, rows = EXCLUDED.rows, "
                  "anchor_us = EXCLUDED.anchor_us", [name, schema_version(), generator, rows, anchor_us])


def redis_url(flush: bool = True) -> str:
    """The bench's Redis database, flushed; a bench of the shipped configuration fails without Redis."""
    import redis

    url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS)
    try:
        client = redis.Redis.from_url(url)
        if flush:
            client.flushdb()
        else:
            client.ping()
    except redis.RedisError as exc:
        raise SystemExit(f"FAIL redis at {url} not available ({exc}); the shipped configuration needs it") from exc
    return url


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def portal_env(db_url: str, cache_url: str, var_dir: Path | None = None, **extra: str) -> dict[str, str]:
    """The environment of a portal process in the shipped configuration."""
    env = {**os.environ, "DATABASE_URL": db_url, "REDIS_URL": cache_url, "CELERY_BROKER_URL": cache_url,
           "DJANGO_SETTINGS_MODULE": "portal.settings", "SECRET_KEY": SECRET_KEY, "DEBUG": "0",
           "ALLOWED_HOSTS": "127.0.0.1,localhost", "LOG_LEVEL": "WARNING"}
    if var_dir is not None:
        env["PORTAL_VAR_DIR"] = str(var_dir)
    env.update(extra)
    return env


@dataclass
class Gunicorn:
    proc: subprocess.Popen[bytes]
    url: str
    workers: int
    threads: int
    log: Path

    @property
    def label(self) -> str:
        return f"gunicorn({self.workers}w{self.threads}t)"

    def pids(self) -> list[int]:
        """The master and its workers."""
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [self.proc.pid, *(int(p) for p in children.read_text().split())] if children.exists() else [self.proc.pid]

    def stop(self) -> None:
        stop(self.proc)
        self.log.unlink(missing_ok=True)


def _configured(env: Mapping[str, str], setting: str) -> int:
    """A setting as deploy/gunicorn.conf.py resolves it in `env` (gunicorn --print-config)."""
    out = subprocess.run([str(ROOT / ".venv" / "bin" / "gunicorn"), "-c", str(GUNICORN_CONF), "--print-config",
                          "portal.wsgi:application"], cwd=ROOT, env=dict(env), capture_output=True, text=True,
                         check=True, timeout=60).stdout
    for line in out.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == setting:
            return int(value.strip())
    raise RuntimeError(f"gunicorn --print-config shows no {setting}")


def start_gunicorn(env: Mapping[str, str], port: int) -> Gunicorn:
    """gunicorn with deploy/gunicorn.conf.py (workers, threads, timeout from there; GUNICORN_* in `env`
    override as in a deployment), bound to loopback, in its own process group, once /healthz answers.
    The access log (stdout) and error log go to a file: the bench's output stays the figures."""
    env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}"}
    workers, threads = _configured(env, "workers"), _configured(env, "threads")
    log = Path(tempfile.mkstemp(prefix="bench-gunicorn-", suffix=".log")[1])
    with log.open("wb") as out:
        proc = subprocess.Popen([str(ROOT / ".venv" / "bin" / "gunicorn"), "portal.wsgi:application", "-c",
                                 str(GUNICORN_CONF)], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return Gunicorn(proc, url, workers, threads, log)
        except httpx.HTTPError:
            time.sleep(0.2)
    stop(proc)
    raise RuntimeError(f"gunicorn did not start: {log.read_text()[-2000:]}")


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    """Stop a process started in its own group (gunicorn with its workers): TERM, then KILL after 10 s."""
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def config_label(server: str, database: str = "postgresql", cache: str = "redis") -> str:
    return f"{database}+{cache}+{server}"


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def verdict(passed: bool, figures: Mapping[str, Any], config: str) -> int:
    """Print the last line (`PASS|FAIL name=value … config=…`) and return the exit status."""
    pairs = " ".join(f"{k}={_fmt(v)}" for k, v in figures.items())
    print(f"{'PASS' if passed else 'FAIL'} {pairs} config={config}", flush=True)
    return 0 if passed else 1


def check(condition: bool, message: str) -> None:
    """A validity gate: a wrong answer ends the bench with FAIL, whatever its timings."""
    if not condition:
        raise BenchInvalid(message)


class BenchInvalid(Exception):
    """A timed request answered wrongly: the figures are not valid."""


def parallel_sql(jobs: list[Any], sessions: int, db_url: str) -> None:
    """Run SQL jobs (statement, params) on `sessions` connections at once, in order of the list: a bulk
    load or an index build is CPU-bound in one backend, so two sessions use both cores of a 2-core machine."""
    import threading

    import psycopg

    queue = list(reversed(jobs))
    lock = threading.Lock()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with psycopg.connect(db_url, autocommit=True) as conn:
                conn.execute("SET maintenance_work_mem = '256MB'")
                conn.execute("SET synchronous_commit = off")
                while True:
                    with lock:
                        if not queue or errors:
                            return
                        sql, params = queue.pop()
                    conn.execute(sql, params)
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
