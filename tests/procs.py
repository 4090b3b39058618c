"""Start real backend processes (Prometheus, Alertmanager, VictoriaMetrics) on free loopback ports.

Each `start_*` returns a `Proc` whose `.url` answers when it returns; `.stop()` ends it and removes its
data. Tests use the pytest fixtures in conftest.py, which call these.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
ALERTMANAGER = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"
VICTORIA = shutil.which("victoria-metrics") or "/usr/bin/victoria-metrics"
REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Proc:
    name: str
    url: str
    port: int
    workdir: Path
    args: list[str]
    popen: subprocess.Popen[bytes] | None = None
    files: dict[str, Path] = field(default_factory=dict)

    def start(self, ready_path: str = "/-/ready", timeout: float = 30.0) -> Proc:
        """Start the process (again, after `stop()`, on the same port and workdir) and wait until it answers."""
        log = open(self.workdir / f"{self.name}.log", "ab")  # noqa: SIM115 - lives as long as the process
        self.popen = subprocess.Popen(self.args, stdout=log, stderr=log, cwd=self.workdir, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {(self.workdir / f'{self.name}.log').read_text()[-2000:]}")
            if self._answers(ready_path):
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not become ready on {self.url}")

    def _answers(self, ready_path: str) -> bool:
        if self.name == "redis":
            import redis

            try:
                return bool(redis.Redis.from_url(self.url, socket_timeout=1.0).ping())
            except redis.RedisError:
                return False
        try:
            return httpx.get(self.url + ready_path, timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.popen and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)
        self.popen = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_prometheus(config: str = "", *, rules_dir: Path | None = None, file_sd_dir: Path | None = None,
                     extra_args: list[str] | None = None, port: int | None = None,
                     workdir: Path | None = None) -> Proc:
    """A Prometheus with the remote-write receiver, lifecycle API (reload) and admin API enabled.

    `config` is the prometheus.yml text; by default one that loads rules from `rules_dir/*.yml` and
    file_sd targets from `file_sd_dir/*.json` (both created).
    """
    workdir = workdir or Path(tempfile.mkdtemp(prefix="prom-"))
    rules_dir = rules_dir or workdir / "rules"
    file_sd_dir = file_sd_dir or workdir / "file_sd"
    rules_dir.mkdir(parents=True, exist_ok=True)
    file_sd_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    if not config:
        config = f"""
global:
  scrape_interval: 5s
  evaluation_interval: 1s
rule_files:
  - {rules_dir}/*.yml
scrape_configs:
  - job_name: org-targets
    honor_labels: false
    file_sd_configs:
      - files: ['{file_sd_dir}/*.json']
        refresh_interval: 5s
"""
    (workdir / "prometheus.yml").write_text(config)
    args = [PROMETHEUS, f"--config.file={workdir / 'prometheus.yml'}", f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}", "--web.enable-lifecycle", "--web.enable-admin-api",
            "--web.enable-remote-write-receiver", "--storage.tsdb.retention.time=30d", "--log.level=warn",
            *(extra_args or [])]
    proc = Proc("prometheus", f"http://127.0.0.1:{port}", port, workdir, args,
                files={"config": workdir / "prometheus.yml", "rules_dir": rules_dir, "file_sd_dir": file_sd_dir})
    return proc.start()


def start_alertmanager(config: str = "", *, port: int | None = None, workdir: Path | None = None) -> Proc:
    workdir = workdir or Path(tempfile.mkdtemp(prefix="am-"))
    port = port or free_port()
    cluster_port = free_port()
    config = config or "route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n"
    (workdir / "alertmanager.yml").write_text(config)
    args = [ALERTMANAGER, f"--config.file={workdir / 'alertmanager.yml'}", f"--storage.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}", f"--cluster.listen-address=127.0.0.1:{cluster_port}",
            f"--cluster.advertise-address=127.0.0.1:{cluster_port}", "--log.level=warn"]
    proc = Proc("alertmanager", f"http://127.0.0.1:{port}", port, workdir, args,
                files={"config": workdir / "alertmanager.yml"})
    return proc.start()


def start_victoriametrics(*, port: int | None = None, workdir: Path | None = None) -> Proc:
    workdir = workdir or Path(tempfile.mkdtemp(prefix="vm-"))
    port = port or free_port()
    args = [VICTORIA, f"-storageDataPath={workdir / 'data'}", f"-httpListenAddr=127.0.0.1:{port}",
            "-retentionPeriod=100y", "-search.latencyOffset=0s", "-loggerLevel=WARN"]
    proc = Proc("victoria-metrics", f"http://127.0.0.1:{port}", port, workdir, args)
    return proc.start(ready_path="/health")


def start_redis(*, port: int | None = None, workdir: Path | None = None) -> Proc:
    """A private Redis without persistence (a test may stop it: the shared one on 6379 serves others)."""
    workdir = workdir or Path(tempfile.mkdtemp(prefix="redis-"))
    port = port or free_port()
    args = [REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(workdir), "--loglevel", "warning"]
    return Proc("redis", f"redis://127.0.0.1:{port}/0", port, workdir, args).start()
