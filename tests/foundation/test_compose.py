"""docker-compose.yml is for users (no Docker engine here): parse it and check it against the project."""

import re
import shlex
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_services_present():
    services = compose()["services"]
    assert {"portal", "worker", "beat", "postgres", "redis", "prometheus", "alertmanager"} <= set(services)
    assert (ROOT / "Dockerfile").exists()


def test_commands_point_at_real_modules_and_files():
    services = compose()["services"]
    assert services["portal"]["command"][:2] == ["gunicorn", "portal.wsgi:application"]
    assert (ROOT / services["portal"]["command"][3]).exists()  # deploy/gunicorn.conf.py
    import portal.celery
    import portal.wsgi  # noqa: F401

    assert portal.celery.app.main == "portal"
    for name in ("worker", "beat"):
        cmd = services[name]["command"]
        assert cmd[:3] == ["celery", "-A", "portal"]


def test_mounted_config_files_exist():
    for svc in compose()["services"].values():
        for vol in svc.get("volumes", []):
            src = vol.split(":")[0]
            if src.startswith("./"):
                assert (ROOT / src).exists(), src


def test_env_vars_are_settings_the_portal_reads():
    services = compose()["services"]
    settings_src = (ROOT / "portal" / "settings.py").read_text()
    for name in ("portal", "worker", "beat"):
        for var in services[name]["environment"]:
            assert f'"{var}"' in settings_src, f"{name} sets {var}, which portal/settings.py never reads"


def test_prometheus_config_scrapes_org_targets_safely_and_receives_remote_write():
    cfg = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    jobs = {j["job_name"]: j for j in cfg["scrape_configs"]}
    assert jobs["org-targets"]["honor_labels"] is False
    # The portal writes the org and platform-series rule files; the shipped platform alerts are mounted beside.
    assert cfg["rule_files"] == ["/etc/prometheus/rules/*.yml", "/etc/prometheus/platform/*.yml"]
    cmd = " ".join(compose()["services"]["prometheus"]["command"])
    assert "--web.enable-remote-write-receiver" in cmd and "--web.enable-lifecycle" in cmd


def test_deploy_configs_validate_with_the_real_tools(tmp_path):
    import subprocess

    cfg = (ROOT / "deploy/prometheus/prometheus.yml").read_text().replace("/etc/prometheus", str(tmp_path))
    (tmp_path / "prometheus.yml").write_text(cfg)
    r = subprocess.run(["promtool", "check", "config", str(tmp_path / "prometheus.yml")], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run(["amtool", "check-config", str(ROOT / "deploy/alertmanager/alertmanager.yml")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_dockerfile_copies_lock_and_runs_collectstatic():
    text = (ROOT / "Dockerfile").read_text()
    assert "requirements.lock" in text and "collectstatic" in text
    assert not re.search(r"https?://", text)
    assert shlex.split("gunicorn portal.wsgi:application")[0] in text
