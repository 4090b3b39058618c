"""Pieces every benchmark shares: starting the portal under gunicorn the way it is deployed, and stopping it."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def start_gunicorn(env: dict[str, str], port: int, workers: int, threads: int = 4) -> subprocess.Popen[bytes]:
    """gunicorn (gthread workers) in its own process group, once /healthz answers."""
    gunicorn = str(ROOT / ".venv" / "bin" / "gunicorn")
    proc = subprocess.Popen([gunicorn, "portal.wsgi", "-b", f"127.0.0.1:{port}", "-w", str(workers),
                             "--threads", str(threads), "--worker-class", "gthread", "--log-level", "warning",
                             "--timeout", "120"], cwd=ROOT, env=env, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    stop(proc)
    raise RuntimeError("gunicorn did not start")


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
