#!/usr/bin/env bash
# Installs the Debian packages the tests run against, when root and missing: Prometheus (+promtool),
# Alertmanager (+amtool), VictoriaMetrics and Chromium. Never downloads anything but Debian packages.
set -euo pipefail
need=()
command -v prometheus >/dev/null || need+=(prometheus)
command -v promtool >/dev/null || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null || need+=(prometheus-alertmanager)
if [ "${1:-}" != "--backends-only" ]; then
  command -v victoria-metrics >/dev/null || need+=(victoria-metrics)
  command -v chromium >/dev/null || need+=(chromium)
fi
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "missing system packages: ${need[*]} (run as root, or: sudo apt-get install ${need[*]})" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${need[@]}" >/dev/null
# The Debian packages enable services on install; the tests start their own on free ports.
pkill -f '^/usr/bin/prometheus-node-exporter' 2>/dev/null || true
