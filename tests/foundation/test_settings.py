"""Settings come from the environment, with the embedded defaults when absent."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import json, django; from django.conf import settings as s; django.setup();"
    "from django.db import connection;"
    "print(json.dumps({'db': s.DATABASES['default']['ENGINE'], 'name': str(s.DATABASES['default']['NAME']),"
    "'cache': s.CACHES['default']['BACKEND'], 'eager': s.CELERY_TASK_ALWAYS_EAGER, 'broker': s.CELERY_BROKER_URL,"
    "'debug': s.DEBUG, 'hosts': s.ALLOWED_HOSTS, 'key': s.SECRET_KEY, 'prom': s.PROMETHEUS_URL}))"
)


def probe(tmp_path, **env):
    base = {k: v for k, v in os.environ.items() if k not in (
        "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "PROMETHEUS_URL", "CELERY_BROKER_URL")}
    base.update(PORTAL_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="portal.settings", **env)
    return subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=base, capture_output=True, text=True,
                          timeout=60)


def test_embedded_defaults(tmp_path):
    r = probe(tmp_path)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["db"] == "django.db.backends.sqlite3"
    assert got["name"] == str(tmp_path / "portal.sqlite3")
    assert got["cache"].endswith("LocMemCache")
    assert got["eager"] is True and got["broker"] == ""
    assert got["debug"] is False
    assert got["prom"] == ""


def test_secret_key_generated_once_and_reused(tmp_path):
    first = json.loads(probe(tmp_path).stdout)["key"]
    second = json.loads(probe(tmp_path).stdout)["key"]
    assert first == second and len(first) >= 40
    assert (tmp_path / "secret_key").read_text().strip() == first
    assert json.loads(probe(tmp_path, SECRET_KEY="given").stdout)["key"] == "given"


def test_values_from_environment(tmp_path):
    r = probe(tmp_path, DATABASE_URL="postgres://postgres@127.0.0.1:5432/x", REDIS_URL="redis://127.0.0.1:6379/4",
              DEBUG="true", ALLOWED_HOSTS="a.example,b.example", PROMETHEUS_URL="http://prom:9090")
    got = json.loads(r.stdout)
    assert got["db"] == "django.db.backends.postgresql"
    assert got["cache"].endswith("RedisCache")
    assert got["eager"] is False and got["broker"] == "redis://127.0.0.1:6379/4"
    assert got["debug"] is True and got["hosts"] == ["a.example", "b.example"]
    assert got["prom"] == "http://prom:9090"


def test_bad_boolean_is_an_error_not_false(tmp_path):
    r = probe(tmp_path, DEBUG="maybe")
    assert r.returncode != 0
    assert "DEBUG='maybe'" in r.stderr


def test_every_setting_is_documented():
    """Each variable the settings read appears in .env.example and in the README's settings table."""
    import re

    src = (ROOT / "portal" / "settings.py").read_text()
    names = set(re.findall(r"(?:_str|_bool|env\.int|env\.list|env\.str|env\.float)\(\"([A-Z_]+)\"", src))
    names.add("DATABASE_URL")
    example = (ROOT / ".env.example").read_text()
    readme = (ROOT / "README.md").read_text()
    missing_example = sorted(n for n in names if f"{n}=" not in example)
    missing_readme = sorted(n for n in names if f"`{n}`" not in readme)
    assert not missing_example, missing_example
    assert not missing_readme, missing_readme
