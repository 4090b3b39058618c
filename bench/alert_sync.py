"""Benchmark: alert rule sync, in the shipped configuration.

Starts what it measures, in the shipped configuration: Prometheus and Alertmanager (tests/procs.py), its own
PostgreSQL database `portal_bench_alerts` (created and migrated), Redis (flushed) as the broker, and a
Celery worker started as docker-compose.yml starts it (`celery -A portal worker`, default pool). Then:

- change → loaded: `--changes` times, a rule is created through the service path (commit → on_commit
  queues `sync_org_task` → the worker renders, promtool-checks, writes, reloads Prometheus and reads
  back); the clock runs from the commit until the rule appears in Prometheus's /api/v1/rules.
  p95                                                                         target ≤ 2 s
- full reconcile of `--orgs` orgs × `--rules` rules (each org with a webhook channel) from an empty rules
  dir: render, one promtool run over every changed file, atomic writes, amtool check, reloads, read
  back                                                                        target ≤ 10 s
  and the generated Alertmanager config loads (every org's receivers in /api/v2/status).

    .venv/bin/python bench/alert_sync.py [--changes 20] [--orgs 1000] [--rules 5]

BENCH_PROFILE=1 prints a cProfile of the reconcile; BENCH_SHOW_WORKER_LOG=1 the Celery worker's log.
Other jobs on the machine slow every step, so the load average is printed with the figures.

Takes about a minute. Last line: `PASS|FAIL name=value … config=…` (ratios are measured / target).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import harness  # noqa: E402
from tests import procs  # noqa: E402

TARGET_CHANGE_P95_S = 2.0
TARGET_RECONCILE_S = 10.0


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(round(0.95 * len(ordered))) - 1)]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--changes", type=int, default=20)
    ap.add_argument("--orgs", type=int, default=1000)
    ap.add_argument("--rules", type=int, default=5)
    args, _ = ap.parse_known_args()  # scripts/bench.sh passes its arguments to every bench

    tmp = Path(tempfile.mkdtemp(prefix="bench-alerts-"))
    rules_dir = tmp / "rules"
    rules_dir.mkdir()
    am = procs.start_alertmanager()
    prom = procs.start_prometheus(rules_dir=rules_dir)
    redis_url = harness.redis_url()
    db_url = harness.database_url("alerts")
    env = harness.portal_env(db_url, redis_url, tmp, PROMETHEUS_URL=prom.url, ALERTMANAGER_URL=am.url,
                             PROMETHEUS_RULES_DIR=str(rules_dir), ALERTMANAGER_CONFIG_FILE=str(am.files["config"]))
    os.environ.update(env)
    worker = None
    config = harness.config_label("celery(prefork)")
    try:
        harness.fresh_database("alerts", redis_url)
        worker = subprocess.Popen(
            [str(ROOT / ".venv/bin/celery"), "-A", "portal", "worker", "--loglevel", "INFO"],
            cwd=ROOT, env=env, stdout=open(tmp / "worker.log", "wb"), stderr=subprocess.STDOUT,  # noqa: SIM115
            start_new_session=True)

        from django.db import transaction

        from alerts_app import sync
        from alerts_app.models import Channel, Rule
        from alerts_app.secrets import write as write_secrets
        from portal.tenancy import services as tenancy
        from portal.tenancy.models import Organization

        # --- change → loaded ----------------------------------------------------------------------
        org = tenancy.create_org("bench", "Bench", "bench")
        warm = Rule.objects.create(org=org, name="warmup", query="up", threshold=0)
        with transaction.atomic():
            sync.request_sync(org, [warm.pk])
        wait_loaded(prom.url, str(warm.pk), 180.0)  # the worker is up and has synced once
        latencies: list[float] = []
        for i in range(args.changes):
            with transaction.atomic():
                rule = Rule.objects.create(org=org, name=f"change_{i}", query="up", comparator="==", threshold=0)
                sync.request_sync(org, [rule.pk])
            t0 = time.perf_counter()
            wait_loaded(prom.url, str(rule.pk), 30.0)
            latencies.append(time.perf_counter() - t0)
        change_p95 = p95(latencies)
        print(f"change → loaded in Prometheus over {len(latencies)} changes: p50 {statistics.median(latencies):.3f}s"
              f"  p95 {change_p95:.3f}s  max {max(latencies):.3f}s  (target ≤ {TARGET_CHANGE_P95_S}s, "
              f"ratio {change_p95 / TARGET_CHANGE_P95_S:.2f})")
        harness.stop(worker)
        worker = None

        # --- full reconcile -----------------------------------------------------------------------
        t_setup = time.perf_counter()
        orgs = Organization.objects.bulk_create(
            [Organization(name=f"Org {n}", slug=f"org-{n:05d}", label_value=f"org-{n:05d}") for n in range(args.orgs)])
        orgs = list(Organization.objects.filter(slug__startswith="org-"))
        rules = [Rule(org=o, name=f"rule_{k}", kind="threshold", severity=("critical", "warning", "info")[k % 3],
                      query=f'sum(rate(http_requests_total{{status=~"5..",service="svc{k}"}}[5m])) '
                            f"/ sum(rate(http_requests_total[5m]))",
                      comparator=">", threshold=0.05, for_duration="5m",
                      annotations={"summary": "{{ $labels.service }} errors"}) for o in orgs for k in range(args.rules)]
        Rule.objects.all_orgs().bulk_create(rules, batch_size=2000)
        channels = []
        for o in orgs:
            ch = Channel(org=o, name="hook", kind="webhook")
            write_secrets(ch, {"url": f"https://hooks.example/{o.slug}", "hmac_secret": "s"})
            channels.append(ch)
        Channel.objects.all_orgs().bulk_create(channels, batch_size=2000)
        for p in rules_dir.glob("*.yml"):
            p.unlink()
        print(f"created {len(orgs)} orgs × {args.rules} rules + 1 channel each in {time.perf_counter() - t_setup:.1f}s")
        t0 = time.perf_counter()
        if os.environ.get("BENCH_PROFILE"):
            import cProfile
            import pstats

            prof = cProfile.Profile()
            report = prof.runcall(sync.reconcile)
            pstats.Stats(prof).sort_stats("cumulative").print_stats(35)
        else:
            report = sync.reconcile()
        reconcile_s = time.perf_counter() - t0
        print("reconcile steps (s):", report.timings)
        # Other jobs on the machine slow every step; say how busy it was.
        print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        status = httpx.get(am.url + "/api/v2/status", timeout=30).json()
        import yaml

        loaded_receivers = {r["name"] for r in yaml.safe_load(status["config"]["original"])["receivers"]}
        am_ok = all(f"org{o.pk}-history" in loaded_receivers and f"org{o.pk}-default" in loaded_receivers
                    for o in orgs)
        groups = httpx.get(prom.url + "/api/v1/rules", timeout=30).json()["data"]["groups"]
        loaded_rules = sum(len(g["rules"]) for g in groups)
        from metrics_app.platform_series import enabled_series

        # the orgs' rules, the warm-up and change rules, and the platform series' recording rules
        expected = len(rules) + 1 + args.changes + len(enabled_series())
        synced = Rule.objects.all_orgs().filter(sync_state="synced").count()
        print(f"full reconcile: {report.orgs} orgs, {report.files_written} files written, {loaded_rules} rules loaded "
              f"(expected {expected}), {synced} rules synced, Alertmanager config loaded: {am_ok} "
              f"({len(loaded_receivers)} receivers, {len(am.files['config'].read_text()) // 1024} KiB) "
              f"in {reconcile_s:.2f}s (target ≤ {TARGET_RECONCILE_S}s, ratio {reconcile_s / TARGET_RECONCILE_S:.2f})")
        ok = (change_p95 <= TARGET_CHANGE_P95_S and reconcile_s <= TARGET_RECONCILE_S and am_ok
              and loaded_rules == expected)
        return harness.verdict(ok, {
            "change_to_loaded_p95_s": change_p95, "change_ratio": change_p95 / TARGET_CHANGE_P95_S,
            "reconcile_s": reconcile_s, "reconcile_ratio": reconcile_s / TARGET_RECONCILE_S,
            "am_config_loaded": am_ok, "rules_loaded": loaded_rules, "valid": am_ok and loaded_rules == expected},
            config)
    except harness.BenchInvalid as exc:
        print(f"invalid run: {exc}")
        return harness.verdict(False, {"valid": False}, config)
    finally:
        harness.stop(worker)
        prom.cleanup()
        am.cleanup()
        if (tmp / "worker.log").exists() and os.environ.get("BENCH_SHOW_WORKER_LOG"):
            print((tmp / "worker.log").read_text()[-3000:])
        shutil.rmtree(tmp, ignore_errors=True)


def wait_loaded(prom_url: str, rule_id: str, timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        groups = httpx.get(prom_url + "/api/v1/rules", timeout=5).json()["data"]["groups"]
        if any(r.get("labels", {}).get("portal_rule") == rule_id for g in groups for r in g["rules"]):
            return
        time.sleep(0.02)
    harness.check(False, f"rule {rule_id} not loaded within {timeout}s")


if __name__ == "__main__":
    sys.exit(main())
