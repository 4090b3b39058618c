#!/usr/bin/env bash
# Runs every benchmark in bench/ in the shipped configuration (PostgreSQL, Redis, gunicorn as deploy/ runs
# it); each prints its figures and ends with a `PASS|FAIL name=value … config=…` line. At the end, one
# table of those lines. Arguments are passed to every bench.
#
# The large-store benches (search, export) reuse the data set an earlier run loaded when it is still valid
# (same migrations, generator and row count; see bench/harness.py); BENCH_REUSE=0 loads them afresh.
set -u
cd "$(dirname "$0")/.."
logs=$(mktemp -d "${TMPDIR:-/tmp}/portal-bench.XXXXXX")
status=0
names=()
started=$(date +%s)
for b in bench/*.py; do
  [ -e "$b" ] || continue
  grep -q '__main__' "$b" || continue  # shared helpers (bench/harness.py), not a benchmark
  name=$(basename "$b" .py)
  extra=()
  if [ "${BENCH_REUSE:-1}" != 0 ]; then
    case $name in search|export) extra=(--reuse) ;; esac
  fi
  echo "=== $b ${extra[*]}"
  t0=$(date +%s)
  .venv/bin/python "$b" "${extra[@]}" "$@" 2>&1 | tee "$logs/$name.log"
  rc=${PIPESTATUS[0]}
  echo "$(( $(date +%s) - t0 ))" > "$logs/$name.seconds"
  [ "$rc" -eq 0 ] || status=1
  names+=("$name")
done

last_line() {  # the bench's verdict, or a FAIL naming how it ended without one
  local line
  line=$(grep -E '^(PASS|FAIL)( |$)' "$logs/$1.log" | tail -n 1)
  echo "${line:-FAIL no result line (crashed; see the output above)}"
}

echo
echo "=== summary ($(( $(date +%s) - started )) s in all; load average $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores)"
printf '%-15s | %-6s | %5s | %-38s | %s\n' bench result s config "key figures"
printf '%s\n' "----------------+--------+-------+----------------------------------------+------------"
for name in "${names[@]}"; do
  line=$(last_line "$name")
  result=${line%% *}
  rest=${line#"$result"}
  config=$(grep -oE 'config=[^ ]+' <<<"$rest" | tail -n 1)
  figures=$(sed -E 's/ ?config=[^ ]+//' <<<"$rest" | sed -E 's/^ +//')
  printf '%-15s | %-6s | %5s | %-38s | %s\n' "$name" "$result" "$(cat "$logs/$name.seconds")" "${config#config=}" "$figures"
done
rm -rf "$logs"
exit $status
