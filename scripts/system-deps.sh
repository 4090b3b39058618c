#!/usr/bin/env bash
# Installs the Debian packages the tests run against, when root and missing: Prometheus (+promtool),
# Alertmanager (+amtool), VictoriaMetrics and Chromium. Never downloads anything but Debian packages.
#
# The packages enable and start services on install; the tests start their own on free ports. So the
# install starts nothing (a policy-rc.d that denies starts, unless the machine has its own), and whatever it
# still started or enabled — service units of the packages this run installed, new since before the
# install — is stopped and disabled by name. Nothing that ran or was enabled before is touched.
set -euo pipefail

# Overridable so that tests can run this against stand-ins.
POLICY_RC_D=${SYSTEM_DEPS_POLICY_RC_D:-/usr/sbin/policy-rc.d}
SYSTEMD_RUN_DIR=${SYSTEM_DEPS_SYSTEMD_RUN_DIR:-/run/systemd/system}

missing_packages() {
  local need=()
  command -v prometheus >/dev/null || need+=(prometheus)
  command -v promtool >/dev/null || need+=(prometheus)
  command -v prometheus-alertmanager >/dev/null || need+=(prometheus-alertmanager)
  if [ "${1:-}" != "--backends-only" ]; then
    command -v victoria-metrics >/dev/null || need+=(victoria-metrics)
    command -v chromium >/dev/null || need+=(chromium)
  fi
  if [ ${#need[@]} -gt 0 ]; then printf '%s\n' "${need[@]}" | sort -u; fi
}

have_systemd() { [ -d "$SYSTEMD_RUN_DIR" ] && command -v systemctl >/dev/null; }

installed_packages() { dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' | awk '$1 == "ii" {print $2}' | sort -u; }

active_units() { systemctl list-units --type=service --state=active --no-legend --plain | awk '{print $1}' | sort -u; }

enabled_units() { systemctl list-unit-files --type=service --state=enabled --no-legend | awk '{print $1}' | sort -u; }

running_pids() { find /proc -maxdepth 1 -name '[0-9]*' -printf '%f\n' | sort -u; }

# Service units (by file name) and files shipped by the given packages.
package_units() { for p in "$@"; do dpkg-query -L "$p" 2>/dev/null || true; done | sed -n 's#^.*/systemd/system/\([^/]*\.service\)$#\1#p' | sort -u; }
package_files() { for p in "$@"; do dpkg-query -L "$p" 2>/dev/null || true; done | sort -u; }

# Lines of file $2 not in file $1 (both sorted), kept if also in file $3.
new_and_ours() { comm -13 "$1" "$2" | comm -12 - "$3"; }

main() {
  local need
  need=$(missing_packages "${1:-}")
  [ -n "$need" ] || exit 0
  if [ "$(id -u)" != 0 ]; then
    echo "missing system packages: $(echo "$need" | tr '\n' ' ')(run as root, or: sudo apt-get install $(echo "$need" | tr '\n' ' '))" >&2
    exit 1
  fi
  local state
  state=$(mktemp -d)
  local own_policy=0
  if [ ! -e "$POLICY_RC_D" ]; then
    printf '#!/bin/sh\n# written by system-deps.sh for the length of its install\nexit 101\n' >"$POLICY_RC_D"
    chmod 755 "$POLICY_RC_D"
    own_policy=1
  fi
  # shellcheck disable=SC2064 # expand now: the paths are fixed for this run
  trap "rm -rf '$state'; [ $own_policy = 1 ] && rm -f '$POLICY_RC_D'; true" EXIT

  installed_packages >"$state/pkgs.before"
  running_pids >"$state/pids.before"
  if have_systemd; then
    active_units >"$state/active.before"
    enabled_units >"$state/enabled.before"
  fi

  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086 # one package name per word
  apt-get install -y -qq $need >/dev/null

  installed_packages >"$state/pkgs.after"
  local new_pkgs
  mapfile -t new_pkgs < <(comm -13 "$state/pkgs.before" "$state/pkgs.after")
  [ ${#new_pkgs[@]} -gt 0 ] || return 0
  package_units "${new_pkgs[@]}" >"$state/units.ours"

  if have_systemd; then
    active_units >"$state/active.after"
    enabled_units >"$state/enabled.after"
    local unit
    for unit in $(new_and_ours "$state/active.before" "$state/active.after" "$state/units.ours"); do
      echo "stopping $unit (started by this install)" >&2
      systemctl stop "$unit"
    done
    for unit in $(new_and_ours "$state/enabled.before" "$state/enabled.after" "$state/units.ours"); do
      echo "disabling $unit (enabled by this install)" >&2
      systemctl disable --quiet "$unit"
    done
  else
    # No systemd: an init script may still have started a daemon (when a policy-rc.d of the machine's own
    # allowed it). Stop only processes that appeared during the install and run a binary of a package the
    # install added.
    package_files "${new_pkgs[@]}" >"$state/files.ours"
    local pid exe
    for pid in $(comm -13 "$state/pids.before" <(running_pids)); do
      exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || continue
      if grep -qxF "$exe" "$state/files.ours"; then
        echo "stopping pid $pid ($exe, started by this install)" >&2
        kill "$pid" 2>/dev/null || true
      fi
    done
  fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  main "$@"
fi
