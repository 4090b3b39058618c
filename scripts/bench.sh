#!/usr/bin/env bash
# Runs every benchmark in bench/; each prints its figures and ends with a PASS/FAIL line.
set -u
status=0
for b in bench/*.py; do
  [ -e "$b" ] || continue
  grep -q '__main__' "$b" || continue  # shared helpers (bench/harness.py), not a benchmark
  echo "=== $b"
  .venv/bin/python "$b" "$@" || status=1
done
exit $status
