"""scripts/system-deps.sh stops nothing the user runs: it runs here against stand-ins for apt-get, dpkg-query
and systemctl on a machine where the user's own node exporter runs, and acts only on the service units of
the packages it installed that were started or enabled during its install."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "system-deps.sh"
TOOLS = ("awk", "cat", "chmod", "comm", "find", "grep", "mktemp", "readlink", "rm", "sed", "sort", "tr")

# What the stand-ins report before the install, and what the install adds.
STUBS = {
    "id": '[ "$1" = -u ] && echo 0',
    "apt-get": """
if [ "$1" = install ]; then
  cat "$POLICY" > "$STATE/policy-during-install" 2>/dev/null || echo none > "$STATE/policy-during-install"
  : > "$STATE/installed"
fi
""",
    "dpkg-query": """
if [ "$1" = -W ]; then
  echo "ii  base-files"
  [ -e "$STATE/installed" ] && printf 'ii  prometheus\\nii  prometheus-alertmanager\\nii  prometheus-node-exporter\\n'
elif [ "$1" = -L ]; then
  echo /usr/bin/$2
  echo /lib/systemd/system/$2.service
fi
true
""",
    "systemctl": """
case "$1" in
  list-units)
    printf 'node-exporter.service loaded active running The user own exporter\\nssh.service loaded active running\\n'
    [ -e "$STATE/installed" ] && printf 'prometheus.service loaded active running\\n'
    [ -e "$STATE/installed" ] && printf 'prometheus-node-exporter.service loaded active running\\n'
    ;;
  list-unit-files)
    printf 'node-exporter.service enabled enabled\\nssh.service enabled enabled\\n'
    [ -e "$STATE/installed" ] && printf 'prometheus.service enabled enabled\\n'
    [ -e "$STATE/installed" ] && printf 'prometheus-alertmanager.service enabled enabled\\n'
    [ -e "$STATE/installed" ] && printf 'prometheus-node-exporter.service enabled enabled\\n'
    ;;
  *) echo "$*" >> "$STATE/calls" ;;
esac
true
""",
}


def _run(tmp_path: Path, policy: Path) -> subprocess.CompletedProcess[str]:
    bin_dir, state, systemd = tmp_path / "bin", tmp_path / "state", tmp_path / "run-systemd"
    for d in (bin_dir, state, systemd):
        d.mkdir(exist_ok=True)
    for tool in TOOLS:
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    for name, body in STUBS.items():
        (bin_dir / name).write_text("#!/bin/bash\n" + body)
        (bin_dir / name).chmod(0o755)
    env = {"PATH": str(bin_dir), "STATE": str(state), "POLICY": str(policy),
           "SYSTEM_DEPS_POLICY_RC_D": str(policy), "SYSTEM_DEPS_SYSTEMD_RUN_DIR": str(systemd)}
    bash = shutil.which("bash") or "/bin/bash"
    return subprocess.run([bash, str(SCRIPT), "--backends-only"], env=env, capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)


def test_only_units_this_install_started_or_enabled_are_stopped_and_disabled(tmp_path: Path) -> None:
    policy = tmp_path / "policy-rc.d"
    r = _run(tmp_path, policy)
    assert r.returncode == 0, r.stderr
    calls = (tmp_path / "state" / "calls").read_text().splitlines()
    assert calls == [
        "stop prometheus-node-exporter.service",
        "stop prometheus.service",
        "disable --quiet prometheus-alertmanager.service",
        "disable --quiet prometheus-node-exporter.service",
        "disable --quiet prometheus.service",
    ]
    assert not any(c.split()[-1] in {"node-exporter.service", "ssh.service"} for c in calls)  # the user's
    # Starts were denied for the length of the install, and the policy file is gone again.
    assert "exit 101" in (tmp_path / "state" / "policy-during-install").read_text()
    assert not policy.exists()


def test_a_policy_of_the_machine_is_left_alone(tmp_path: Path) -> None:
    policy = tmp_path / "policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 0\n")
    r = _run(tmp_path, policy)
    assert r.returncode == 0, r.stderr
    assert policy.read_text() == "#!/bin/sh\nexit 0\n"
    assert (tmp_path / "state" / "policy-during-install").read_text() == "#!/bin/sh\nexit 0\n"


def test_no_script_ends_processes_by_pattern() -> None:
    for path in (ROOT / "scripts").rglob("*"):
        if path.is_file() and path.suffix in {".sh", ".py", ""}:
            text = path.read_text(errors="replace")
            assert "pkill" not in text and "killall" not in text, path
    assert os.access(SCRIPT, os.R_OK)
