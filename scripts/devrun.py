"""`make run`: the portal with live demo data on the embedded default.

Migrates a SQLite database under var/, seeds demo orgs and an admin (login printed), then starts what is
available on this machine — the demo deployment (dashboards_app/demo/workload.py: every instance of the
shared platform's services), Prometheus (scraping each instance, evaluating the default platform recording
rules), Alertmanager, Redis and a Celery worker with beat — and the web server on http://127.0.0.1:8000.
Ctrl-C stops everything it started.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR_ROOT = Path(os.environ.get("PORTAL_VAR_DIR") or ROOT / "var")
VAR = VAR_ROOT / "run"
PORT = int(os.environ.get("PORTAL_PORT", "8000"))
BASE = f"http://127.0.0.1:{PORT}"
PY = sys.executable
procs: list[tuple[str, subprocess.Popen[bytes]]] = []


def port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def pick_port(preferred: int) -> int:
    if port_free(preferred):
        return preferred
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(name: str, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    log = open(VAR / f"{name}.log", "ab")  # noqa: SIM115 - kept open for the child's lifetime
    p = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    procs.append((name, p))
    print(f"  started {name} (pid {p.pid}, log {VAR}/{name}.log)", flush=True)
    return p


def wait_http(url: str, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - loopback only
                return True
        except OSError:
            time.sleep(0.3)
    return False


def stop_all(*_: object) -> None:
    print("\nstopping…")
    for _name, p in reversed(procs):
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
    for name, p in reversed(procs):
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
        print(f"  stopped {name}")
    sys.exit(0)


def ensure_backends_installed() -> None:
    """As root on Debian, install Prometheus and Alertmanager if they are missing."""
    if shutil.which("prometheus") and shutil.which("prometheus-alertmanager"):
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing prometheus and prometheus-alertmanager (Debian packages)…")
        subprocess.run(["bash", "scripts/system-deps.sh", "--backends-only"], cwd=ROOT, check=False)


def write_platform_rules(manage: list[str], env: dict[str, str], rules_dir: Path) -> None:
    """The default platform recording rules (metrics_app.platform_series), under the file name the
    portal's rule sync uses, so that a later sync replaces the file instead of doubling the rules."""
    code = ("import sys; from metrics_app import platform_series as p; "
            "sys.stdout.write(p.rules_path().name + chr(10) + p.rules_yaml())")
    r = subprocess.run([*manage, "shell", "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    if r.returncode != 0 or "\n" not in r.stdout:
        print(f"  platform recording rules not written: {(r.stderr or r.stdout).strip()[-300:]}")
        return
    name, text = r.stdout.split("\n", 1)
    (rules_dir / name).write_text(text)


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from dashboards_app.demo.workload import scrape_config  # stdlib-only module: no Django set-up needed

    VAR.mkdir(parents=True, exist_ok=True)
    ensure_backends_installed()
    env = dict(os.environ)
    env.setdefault("DATABASE_URL", f"sqlite:///{VAR_ROOT / 'portal.sqlite3'}")
    rules_dir, file_sd_dir = VAR / "prometheus" / "rules", VAR / "prometheus" / "file_sd"
    am_config = VAR / "alertmanager" / "alertmanager.yml"
    for d in (rules_dir, file_sd_dir, am_config.parent):
        d.mkdir(parents=True, exist_ok=True)
    env.update(PROMETHEUS_RULES_DIR=str(rules_dir), PROMETHEUS_FILE_SD_DIR=str(file_sd_dir),
               ALERTMANAGER_CONFIG_FILE=str(am_config), PORTAL_BASE_URL=BASE)
    # A laptop demo scrapes exporters (and notifies receivers) on this machine; production keeps the guard closed.
    env.setdefault("OUTBOUND_URL_ALLOW", "127.0.0.0/8")
    signal.signal(signal.SIGINT, stop_all)
    signal.signal(signal.SIGTERM, stop_all)

    manage = [PY, "manage.py"]
    print("migrating the database…")
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)

    write_platform_rules(manage, env, rules_dir)

    print("starting local services:")
    workload_port = pick_port(9101)
    start("demo-workload", [PY, "-m", "dashboards_app.demo.workload", "--port", str(workload_port)], env)

    redis_url = env.get("REDIS_URL", "")
    if not redis_url:
        if not port_free(6379):
            redis_url = "redis://127.0.0.1:6379/3"  # a Redis already runs here: use a database of our own
        elif shutil.which("redis-server"):
            start("redis", ["redis-server", "--port", "6379", "--bind", "127.0.0.1", "--save", "",
                            "--appendonly", "no", "--dir", str(VAR)])
            redis_url = "redis://127.0.0.1:6379/0"
        if redis_url:
            env["REDIS_URL"] = redis_url

    if shutil.which("prometheus-alertmanager"):
        am_port = pick_port(9093)
        if not am_config.exists():
            am_config.write_text((ROOT / "deploy" / "alertmanager" / "alertmanager.yml").read_text())
        start("alertmanager", ["prometheus-alertmanager", f"--config.file={am_config}",
                               f"--storage.path={VAR / 'alertmanager' / 'data'}",
                               f"--web.listen-address=127.0.0.1:{am_port}",
                               f"--cluster.listen-address=127.0.0.1:{pick_port(9094)}"])
        env["ALERTMANAGER_URL"] = f"http://127.0.0.1:{am_port}"
    else:
        am_port = 0
    if shutil.which("prometheus"):
        prom_port = pick_port(9090)
        cfg = VAR / "prometheus" / "prometheus.yml"
        alerting = (f"alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{am_port}']\n"
                    if am_port else "")
        cfg.write_text(f"""global:
  scrape_interval: 5s
  evaluation_interval: 5s
{alerting}rule_files:
  - {rules_dir}/*.yml
scrape_configs:
{scrape_config("127.0.0.1", workload_port, interval="5s")}
  - job_name: portal
    static_configs:
      - targets: ['127.0.0.1:{PORT}']
  - job_name: org-targets
    honor_labels: false
    file_sd_configs:
      - files: ['{file_sd_dir}/*.json']
        refresh_interval: 10s
""")
        start("prometheus", ["prometheus", f"--config.file={cfg}", f"--storage.tsdb.path={VAR / 'prometheus' / 'data'}",
                             f"--web.listen-address=127.0.0.1:{prom_port}", "--web.enable-lifecycle",
                             "--web.enable-remote-write-receiver", "--log.level=warn"])
        env["PROMETHEUS_URL"] = f"http://127.0.0.1:{prom_port}"
    else:
        print("  prometheus not found: dashboards will say the backend is not configured")

    if redis_url:
        start("celery", [PY, "-m", "celery", "-A", "portal", "worker", "-B", "--concurrency", "2",
                         "--loglevel", "INFO", "-s", str(VAR / "celerybeat-schedule")], env)
    else:
        start("beat-inprocess", [*manage, "beat_inprocess"], env)  # periodic tasks without a broker

    seed = subprocess.run([*manage, "seed_demo"], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    start("portal", [*manage, "runserver", "--noreload", f"127.0.0.1:{PORT}"], env)
    start("demo-telemetry", [*manage, "demo_telemetry", "--portal", BASE], env)
    if not wait_http(f"{BASE}/healthz"):
        print(f"the web server did not start; see {VAR}/portal.log")
        stop_all()
    print()
    print(seed.stdout.strip())
    print()
    print(f"portal: {BASE}   (Ctrl-C stops everything)")
    for key in ("PROMETHEUS_URL", "ALERTMANAGER_URL", "REDIS_URL"):
        print(f"  {key}={env.get(key, '(not running)')}")
    while True:
        for name, p in procs:
            if p.poll() is not None and name in ("portal",):
                print(f"{name} exited with {p.returncode}; see {VAR}/{name}.log")
                stop_all()
        time.sleep(1)


if __name__ == "__main__":
    main()
