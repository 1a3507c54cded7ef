#!/usr/bin/env bash
# tests/gateways/s3/gc_test.sh — chunk garbage collection (ADR 0007)
# through a real `cairn dev` and boto3 (gc_test.py); the collector's grace
# is shortened so the test does not wait.
#   usage: gc_test.sh /path/to/cairn
set -euo pipefail
cairn=${1:?usage: gc_test.sh /path/to/cairn}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
pid=""
cleanup() {
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; tail -20 "$work/err" 2>/dev/null | sed 's/^/  err: /' >&2; exit 1; }
py=/usr/bin/python3  # Debian's, with python3-boto3 (.ci/deps)
"$py" -c 'import boto3' 2>/dev/null || { echo "SKIP: $py has no boto3 (apt-get install python3-boto3)"; exit 77; }
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"  # s3check.py

"$cairn" dev --data "$work/data" --admin-port 0 --s3-port 0 --device-mb 64 --gc-grace-ms 200 \
  >"$work/out" 2>"$work/err" &
pid=$!
for _ in $(seq 1 300); do
  grep -q '^secret-key: ' "$work/out" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || fail "cairn dev exited early"
  sleep 0.1
done
field() { sed -n "s/^$1: //p" "$work/out"; }
"$py" "$here/gc_test.py" "$(field s3-endpoint)" "$(field access-key)" "$(field secret-key)" \
  "$(field metrics)" || fail "gc checks"
kill -TERM "$pid"
wait "$pid" || fail "cairn dev exited non-zero on SIGTERM"
pid=""
