"""Backend configs that hold credentials are private: the Alertmanager config and the secret files it
names are 0600, the config holds no secret in clear where Alertmanager 0.25 has a `*_file` field, and
Alertmanager still loads it and notifies with the secrets read from those files. The per-org file_sd
files (their relay paths are signed scrape credentials) are 0600 too."""

from __future__ import annotations

import functools
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alerts_app import render, sync
from alerts_app.models import AlertEvent, Channel
from alerts_app.secrets import write as write_secrets
from metrics_in_app import file_sd
from metrics_in_app.models import ScrapeTarget
from portal.credentials import AuthType
from portal.tenancy.models import Organization
from tests import procs
from tests.alerts.receivers import HttpRecorder, wait_for
from tests.security import alert_stack
from tests.security.alert_stack import always_firing, bump, fast_policy, loaded_am_config, pagerduty_channel, pages_for

pytestmark = pytest.mark.django_db(transaction=True)

ROUTING_KEY = "R0UTING-KEY-acme-5f1c"


@pytest.fixture
def stack(tmp_path: Path, settings: Any, live_server: Any) -> Iterator[dict[str, Any]]:
    yield from alert_stack.run(tmp_path, settings, live_server)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_alertmanager_config_and_its_secret_files_are_private_and_still_notify(
        stack: dict[str, Any], org_a: Organization, settings: Any) -> None:
    http: HttpRecorder = stack["http"]
    am = stack["am"]
    config_path = Path(settings.ALERTMANAGER_CONFIG_FILE)
    config_path.chmod(0o644)  # as an older version left it
    pd = pagerduty_channel(org_a, "pd", ROUTING_KEY)
    hook = Channel(org=org_a, name="hook", kind="webhook")
    write_secrets(hook, {"url": "https://hooks.acme.example/in", "hmac_secret": "hmac-acme-secret"})
    hook.save()
    fast_policy(org_a)
    always_firing(org_a)
    assert sync.reconcile().errors == {}

    # 1. Modes: the config and every secret file 0600, their directory 0700.
    text = config_path.read_text()
    secrets_dir = render.secrets_dir()
    files = sorted(secrets_dir.iterdir())
    assert mode(config_path) == 0o600 and mode(secrets_dir) == 0o700
    assert files and all(mode(f) == 0o600 for f in files), [(f.name, oct(mode(f))) for f in files]
    assert {str(f) for f in files} == render.referenced_files(text)

    # 2. No secret in clear: the routing key and every hook credential sit behind `*_file` fields.
    hook_tokens = [render.hook_token(org_a.pk, r) for r in ("history", f"ch{hook.pk}")]
    for secret in (ROUTING_KEY, "hmac-acme-secret", "hooks.acme.example", *hook_tokens):
        assert secret not in text
    assert '"routing_key_file"' in text and '"credentials_file"' in text
    assert (secrets_dir / f"org{org_a.pk}-ch{pd.pk}-routing-key").read_text() == ROUTING_KEY

    # 3. amtool accepts the written file, and Alertmanager runs with it (read back through its API).
    check = subprocess.run([settings.AMTOOL, "check-config", str(config_path)], capture_output=True, text=True,
                           check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    loaded = loaded_am_config(am)
    pd_receiver = next(r for r in loaded["receivers"] if r["name"] == f"org{org_a.pk}-ch{pd.pk}")
    assert pd_receiver["pagerduty_configs"][0]["routing_key_file"].endswith("-routing-key")

    # 4. A notification arrives with the key Alertmanager read from the file, and the history hook
    # accepted the bearer credential it read from its file.
    wait_for(functools.partial(pages_for, http, ROUTING_KEY), what="a page with the routing key")
    wait_for(AlertEvent.objects.for_org(org_a).exists, what="alert history through the hook")

    # 5. A new key reaches the file (not the config) and the next page uses it.
    write_secrets(pd, {"routing_key": "R0TATED-acme"})
    pd.save()
    bump(org_a)
    sync.sync_org(org_a.pk)
    assert config_path.read_text() == text
    wait_for(functools.partial(pages_for, http, "R0TATED-acme"), what="a page with the rotated key")

    # 6. A deleted channel's secret file goes with it.
    pd.delete()
    bump(org_a)
    assert sync.sync_org(org_a.pk).errors == {}
    assert not (secrets_dir / f"org{org_a.pk}-ch{pd.pk}-routing-key").exists()
    assert {str(f) for f in secrets_dir.iterdir()} == render.referenced_files(config_path.read_text())


def test_file_sd_file_with_relay_credentials_is_private(org_a: Organization, tmp_path: Path, settings: Any) -> None:
    settings.PROMETHEUS_FILE_SD_DIR = tmp_path / "file_sd"
    port = procs.free_port()
    settings.OUTBOUND_URL_ALLOW = [f"127.0.0.1:{port}"]
    target = ScrapeTarget.objects.create(org=org_a, name="exporter", address=f"127.0.0.1:{port}",
                                         auth_type=AuthType.BEARER)
    target.bearer_token = "exporter-token"
    target.save()
    path = file_sd.write(org_a)
    assert "/relay/" in path.read_text()  # the signed path that scrapes with the target's token
    assert mode(path) == 0o600
