"""`make run`'s supervisor on the embedded default: it migrates, seeds, starts the local backends and the
web server, prints the login, serves live demo data, and Ctrl-C stops everything it started."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.procs import free_port

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.backends


def test_make_run_supervisor(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "PROMETHEUS_URL",
                                                            "ALERTMANAGER_URL", "SECRET_KEY")}
    env.update(PORTAL_VAR_DIR=str(tmp_path), PORTAL_PORT=str(port))
    proc = subprocess.Popen([sys.executable, "-u", "scripts/devrun.py"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    out: list[str] = []
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            out.append(line)
            if line.startswith("portal: http"):
                break
        text = "".join(out)
        assert f"portal: http://127.0.0.1:{port}" in text, text
        assert re.search(r"email: admin@example.com\s+password: \S+", text), text
        assert (tmp_path / "portal.sqlite3").exists()  # the embedded default
        pids = [int(p) for p in re.findall(r"\(pid (\d+),", text)]
        assert {"prometheus", "alertmanager", "demo-workload", "portal"} <= set(re.findall(r"started ([\w-]+)", text))

        base = f"http://127.0.0.1:{port}"
        assert httpx.get(base + "/healthz").status_code == 200
        ready = httpx.get(base + "/readyz").json()
        assert ready["components"]["prometheus"]["status"] == "up", ready
        prom = re.search(r"PROMETHEUS_URL=(\S+)", "".join(out) + "".join(_drain(proc, 3))).group(1)
        up = []
        for _ in range(60):  # live demo data: Prometheus has scraped the demo workload
            up = httpx.get(prom + "/api/v1/query", params={"query": 'up{job="api-router"}'}).json()["data"]["result"]
            if up and up[0]["value"][1] == "1":
                break
            time.sleep(1)
        assert up and up[0]["value"][1] == "1"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    time.sleep(1)
    alive = [p for p in pids if _alive(p)]
    assert not alive, f"still running after Ctrl-C: {alive}"


def _drain(proc, n):
    lines = []
    for _ in range(n):
        lines.append(proc.stdout.readline())
    return lines


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie of an exited child still answers kill(0); read its state.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False
