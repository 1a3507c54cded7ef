#!/usr/bin/env bash
# tests/gateways/s3/gc_test.sh — chunk garbage collection (ADR 0007)
# through a real `cairn dev` and boto3 (gc_test.py); the collector's grace
# is shortened so the test does not wait.
#   usage: gc_test.sh /path/to/cairn
set -euo pipefail
cairn=${1:?usage: gc_test.sh /path/to/cairn}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
source "$here/dev_lib.sh"
trap 'dev_kill; rm -rf "$work"' EXIT
py=/usr/bin/python3  # Debian's, with python3-boto3 (.ci/deps)
"$py" -c 'import boto3' 2>/dev/null || { echo "SKIP: $py has no boto3 (apt-get install python3-boto3)"; exit 77; }
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"  # s3check.py

dev_start "$cairn" 64 --gc-grace-ms 200
"$py" "$here/gc_test.py" "$endpoint" "$access" "$secret" "$metrics" || fail "gc checks"
dev_stop
