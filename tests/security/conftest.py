"""The alerting fixtures (rule/config files in a temp dir, real Prometheus and Alertmanager) shared with
tests/alerts/."""

from tests.alerts.conftest import alert_files, am_proc, backends, prom_proc

__all__ = ["alert_files", "am_proc", "backends", "prom_proc"]
